"""`export`: raw samples streamed from a server-side cursor into a file, in constant memory."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from psycopg import Connection, sql

from ..model.columns import COLUMNS
from .formats import csv_header, encode_csv, encode_jsonl

# Rows fetched from the server-side cursor at a time.
BATCH = 10_000


@dataclass(frozen=True)
class Selection:
    """Which samples to export: a device (None: every device) and a range [start, end)."""

    device_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    def where(self) -> tuple[sql.Composable, dict]:
        """The WHERE clause and its parameters."""
        conditions, params = [sql.SQL("true")], {}
        if self.device_id is not None:
            conditions.append(sql.SQL("device_id = %(device_id)s"))
            params["device_id"] = self.device_id
        if self.start is not None:
            conditions.append(sql.SQL("ts >= %(start)s"))
            params["start"] = self.start
        if self.end is not None:
            conditions.append(sql.SQL("ts < %(end)s"))
            params["end"] = self.end
        return sql.SQL(" AND ").join(conditions), params


def count_samples(conn: Connection, selection: Selection) -> int:
    """How many samples the selection holds (for the progress bar)."""
    where, params = selection.where()
    query = sql.SQL("SELECT count(*) FROM sungrow_samples WHERE {}").format(where)
    return conn.execute(query, params).fetchone()[0]


def stored_rows(conn: Connection, selection: Selection) -> Iterator[list[tuple]]:
    """The selected samples in batches, by device and time, through a server-side cursor
    (in a transaction of its own, so the export is one consistent snapshot)."""
    where, params = selection.where()
    query = sql.SQL("SELECT {} FROM sungrow_samples WHERE {} ORDER BY device_id, ts").format(
        sql.SQL(", ").join(map(sql.Identifier, COLUMNS)), where
    )
    with conn.transaction(), conn.cursor(name="sungrow_export", binary=True) as cursor:
        cursor.itersize = BATCH
        cursor.execute(query, params)
        while rows := cursor.fetchmany(BATCH):
            yield rows


def write_samples(
    conn: Connection, selection: Selection, out: IO[bytes], format_: str, progress=None
) -> int:
    """Write the selected samples to `out` as `format_` (jsonl or csv); the count written.
    `progress` (a tqdm bar, or None) is advanced by each batch."""
    encode = encode_jsonl if format_ == "jsonl" else encode_csv
    if format_ == "csv":
        out.write(csv_header())
    written = 0
    for rows in stored_rows(conn, selection):
        out.write(encode(rows))
        written += len(rows)
        if progress is not None:
            progress.update(len(rows))
    out.flush()
    return written
