"""`import`: samples from a file stored through ingest's write path, chunk by chunk.

Every line is checked with ingest's own SampleSchema; each chunk is stored per device by
`ingest.write.insert_samples`, one transaction each, so repeats are skipped and derived
columns are right whatever the order of the file. A bad line stops the import before
its chunk is stored: the chunks before it are stored, nothing after.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from marshmallow import ValidationError
from psycopg import Connection

from ..db.aggregates import refresh_aggregates
from ..ingest.schemas import SampleSchema
from ..ingest.write import insert_samples
from ..web.compiled_loader import load
from .formats import BadLine

# Lines checked, then stored, at a time (the size of an edge's largest batch).
CHUNK = 1000
SAMPLE = SampleSchema()
# Refreshing a continuous aggregate materialises only the buckets wholly inside the
# window, and only where samples changed: a month and a day of margin on each side
# covers the local month around the first and the last sample in any zone.
MARGIN = timedelta(days=32)


@dataclass
class Imported:
    """What an import stored so far."""

    lines: int = 0  # the last line of the last chunk stored
    samples: int = 0
    inserted: int = 0
    first: datetime | None = None
    last: datetime | None = None
    devices: dict[str, int] = field(default_factory=dict)  # device -> samples newly stored

    def add(self, device_id: str, samples: list[dict], inserted: int) -> None:
        """Count a device's part of a stored chunk."""
        self.samples += len(samples)
        self.inserted += inserted
        self.devices[device_id] = self.devices.get(device_id, 0) + inserted
        first, last = min(s["ts"] for s in samples), max(s["ts"] for s in samples)
        self.first = first if self.first is None else min(self.first, first)
        self.last = last if self.last is None else max(self.last, last)


class ImportStopped(Exception):
    """A bad line stopped the import; `imported` is what was stored before its chunk."""

    def __init__(self, bad: BadLine, imported: Imported):
        super().__init__(str(bad))
        self.bad = bad
        self.imported = imported


class Rename:
    """`--device ID`: every sample stored as ID. The file must hold one device's samples
    (or leave device_id out): renaming two devices to one would merge their histories."""

    def __init__(self, device_id: str | None):
        self.device_id = device_id
        self.named: str | None = None

    def __call__(self, number: int, item: dict) -> dict:
        named = item.get("device_id")
        if named is not None and named != self.named:
            if self.named is not None:
                raise BadLine(
                    number,
                    f"device {named!r} after samples of {self.named!r}: --device stores one "
                    "device's samples under another name, so the file must hold one device",
                )
            self.named = named
        return {**item, "device_id": self.device_id}


def checked(number: int, item: Any, rename: Rename) -> dict:
    """A line's sample as POST /v1/ingest would accept it, or BadLine with the schema's
    messages."""
    if rename.device_id is not None and type(item) is dict:
        item = rename(number, item)
    try:
        return load(SAMPLE, item)
    except ValidationError as exc:
        raise BadLine(number, _messages(exc.messages)) from None


def import_samples(
    conn: Connection,
    lines: Iterable[tuple[int, Any]],
    timezone: str,
    device_id: str | None = None,
    on_chunk=None,
) -> Imported:
    """Check and store (line number, sample) pairs in chunks of CHUNK; `on_chunk(imported)`
    after each. ImportStopped at the first bad line, with what was stored before."""
    imported, chunk, rename = Imported(), [], Rename(device_id)
    last_number = 0
    try:
        for number, item in lines:
            chunk.append(checked(number, item, rename))
            last_number = number
            if len(chunk) == CHUNK:
                _store(conn, chunk, timezone, imported)
                imported.lines, chunk = last_number, []
                if on_chunk:
                    on_chunk(imported)
    except BadLine as bad:
        raise ImportStopped(bad, imported) from None
    if chunk:
        _store(conn, chunk, timezone, imported)
        imported.lines = last_number
        if on_chunk:
            on_chunk(imported)
    return imported


def _store(conn: Connection, chunk: list[dict], timezone: str, imported: Imported) -> None:
    by_device: dict[str, list[dict]] = {}
    for sample in chunk:
        by_device.setdefault(sample["device_id"], []).append(sample)
    for device, samples in by_device.items():
        inserted, _ = insert_samples(conn, device, samples, timezone)
        imported.add(device, samples, inserted)


def heal_rollups(conn: Connection, imported: Imported) -> tuple[datetime, datetime]:
    """Materialise the continuous aggregates again where the import changed samples (as
    the policies would at their next runs); the window refreshed."""
    start, end = imported.first - MARGIN, imported.last + MARGIN
    refresh_aggregates(conn, start, end)
    return start, end


def _messages(messages: Any) -> str:
    """marshmallow's messages for one sample as one line: `field: message; field: message`."""
    if not isinstance(messages, dict):
        messages = {"_schema": messages}
    parts = []
    for key, value in messages.items():
        text = " ".join(map(str, value)) if isinstance(value, list) else str(value)
        parts.append(text if key == "_schema" else f"{key}: {text}")
    return "; ".join(parts)
