"""The files of export and import: JSON Lines, one sample per line as POST /v1/ingest takes
it, or CSV with a header row of the same fields (an empty cell is null). Timestamps are
ISO 8601 in UTC with an offset and numbers are written in their shortest exact form, so
a sample read back is the sample stored."""

import csv
import io
import json
import re
from collections.abc import Generator, Iterable
from typing import IO, Any

import orjson

from ..model.columns import COLUMNS

FORMATS = ("jsonl", "csv")
TS = COLUMNS.index("ts")
NUMBERS = frozenset(COLUMNS[2:])


class BadLine(Exception):
    """A line that cannot be imported: its number and what is wrong with it."""

    def __init__(self, number: int, message: str):
        super().__init__(f"line {number}: {message}")
        self.number = number
        self.message = message


def encode_jsonl(rows: Iterable[tuple]) -> bytes:
    """Stored rows (in COLUMNS order) as JSON lines."""
    return b"".join(orjson.dumps(dict(zip(COLUMNS, row, strict=True))) + b"\n" for row in rows)


def csv_header() -> bytes:
    """The header row of a CSV file."""
    return (",".join(COLUMNS) + "\n").encode()


def encode_csv(rows: Iterable[tuple]) -> bytes:
    """Stored rows as CSV rows: ISO timestamps, exact floats (repr), null as empty."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow((*row[:TS], row[TS].isoformat(), *row[TS + 1 :]))
    return out.getvalue().encode()


def read_samples(stream: IO[bytes]) -> Generator[tuple[int, Any], None, None]:
    """(line number, sample as parsed, not yet checked) for each sample of a JSON Lines or
    CSV file, told apart by the first character ('{' starts JSON Lines). Raises BadLine
    for a line that is not a sample at all."""
    first = stream.peek(64).lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if first == b"{":
        return _jsonl(stream)
    return _csv(stream)


def _jsonl(stream: IO[bytes]) -> Generator[tuple[int, Any], None, None]:
    for number, line in enumerate(stream, 1):
        if line.strip():
            yield number, _parse_json(number, line)


# A quote followed by whitespace: where a key might stand apart from its colon.
_SPACED_QUOTE = re.compile(rb'"[ \t\n\r]')


def _parse_json(number: int, line: bytes) -> Any:
    """Strict JSON, as POST /v1/ingest reads a body: no NaN or Infinity, no repeated key.
    orjson decides quickly where the count of `":` proves every key distinct."""
    try:
        item = orjson.loads(line)
        unique = type(item) is dict and line.count(b'":') == len(item)
        if unique and not _SPACED_QUOTE.search(line):
            return item
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(line, parse_constant=_reject, object_pairs_hook=_unique)
    except (ValueError, RecursionError):
        raise BadLine(number, "not valid JSON") from None


def _reject(name: str):
    raise ValueError(name)


def _unique(pairs: list[tuple]) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("repeated key")
    return result


def _csv(stream: IO[bytes]) -> Generator[tuple[int, Any], None, None]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    try:
        header = next(reader, None)
        if header is None:
            return
        unknown = [name for name in header if name not in COLUMNS]
        if unknown or len(set(header)) != len(header):
            raise BadLine(
                1,
                f"not a JSON sample, nor a CSV header of the fields {', '.join(COLUMNS)} "
                f"(found: {', '.join(header)[:200]})",
            )
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise BadLine(
                    reader.line_num, f"{len(row)} fields where the header has {len(header)}"
                )
            yield (
                reader.line_num,
                {name: _cell(name, value) for name, value in zip(header, row, strict=True)},
            )
    except UnicodeDecodeError:
        raise BadLine(reader.line_num + 1, "not valid UTF-8") from None
    except csv.Error as exc:
        raise BadLine(reader.line_num, f"not valid CSV ({exc})") from None
    finally:
        text.detach()


def _cell(name: str, value: str) -> Any:
    """A CSV cell as the JSON value it stands for: empty is null, a number is a number;
    anything else stays text, for the schema to refuse with its own message."""
    if value == "":
        return None
    if name not in NUMBERS:
        return value
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value
