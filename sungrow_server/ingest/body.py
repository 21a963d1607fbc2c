"""Request bodies read within a byte limit (also after gunzip) and parsed as strict JSON."""

import json
import re
import zlib

import orjson
from flask import Request

from ..config import get_settings
from ..errors import APIError
from ..web.body_deadline import BODY_READ, BodyReaders, Deadline

CHUNK = 64 * 1024


def too_large(limit: int) -> APIError:
    """The 413 of API.md for a body over the limit."""
    return APIError(413, f"Request body exceeds limit of {limit} bytes.")


def too_slow(seconds: float) -> APIError:
    """The 408 for a body that did not come within BODY_READ_TIMEOUT_S."""
    return APIError(408, f"Request body not received within {seconds:g} s.")


def too_busy() -> APIError:
    """The 503 for a slow body when the worker waits for as many as it will."""
    retry_after = str(get_settings().retry_after_s)
    return APIError(
        503, "Too many slow uploads in progress; try again later.", {"Retry-After": retry_after}
    )


def read_body(request: Request, limit: int, readers: BodyReaders) -> bytes:
    """The body, at most `limit` bytes once decompressed; 413 as soon as it is known to be more.

    A declared Content-Length over the limit is refused before anything is read; without
    one (chunked) or with one that lies, reading stops one byte past the limit. A gzip
    body is inflated only up to the limit, so a small bomb is refused, never expanded.
    The whole body must come within BODY_READ_TIMEOUT_S (408), and a slow one only while
    the worker has a slot for it (503; see web/body_deadline.py).
    """
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip"):
        raise APIError(415, f"Unsupported Content-Encoding '{encoding}'; use gzip or none.")
    inflater = Gunzip() if encoding == "gzip" else None
    stream = request.stream
    parts, size = [], 0
    with readers.deadline(request.environ) as deadline:
        while True:
            try:
                chunk = stream.read(CHUNK)
            except Exception:
                # A read cut short by the deadline looks like a client that hung up.
                _raise_if_cut(deadline, readers)
                raise
            _raise_if_cut(deadline, readers)
            if not chunk:
                break
            if inflater is not None:
                chunk = inflater.inflate(chunk, limit - size)
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            parts.append(chunk)
    request.environ[BODY_READ] = True
    if inflater is not None:
        inflater.finish()
    return b"".join(parts)


def _raise_if_cut(deadline: Deadline, readers: BodyReaders) -> None:
    if deadline.refused:
        raise too_busy()
    if deadline.passed():
        raise too_slow(readers.timeout_s)


class Gunzip:
    """Inflates a gzip body of one or more members (RFC 1952: members may follow each
    other, and `gzip a b` or appending to a .gz file makes such bodies).

    zlib stops at the end of the first member and keeps what follows aside; that is fed
    to a new member, so no byte of the body is left unread: anything after a member that
    is not another complete member is a 400, never a 200 for the part before it.
    """

    def __init__(self):
        self._member = None  # None between members
        self._members = 0

    def inflate(self, data: bytes, room: int) -> bytes:
        """What `data` inflates to, at most `room + 1` bytes (one past the room tells
        the caller that the limit is passed)."""
        out = []
        while data and room >= 0:
            if self._member is None:
                self._member = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
                self._members += 1
            try:
                piece = self._member.decompress(data, room + 1)
            except zlib.error:
                raise not_gzip() from None
            out.append(piece)
            room -= len(piece)
            if not self._member.eof:
                break  # all of `data` is consumed (or the room is passed)
            data = self._member.unused_data
            self._member = None
        return b"".join(out)

    def finish(self) -> None:
        """400 unless the body held a member and ended with the end of one."""
        if self._member is not None or not self._members:
            raise not_gzip()


def not_gzip() -> APIError:
    """The 400 of a body that is not valid gzip."""
    return APIError(400, "Request body is not valid gzip.")


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _object(pairs: list[tuple]) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key in an object")
    return result


def _integer(text: str) -> int | float:
    """A JSON integer; past the digits Python converts (4,300), an infinite float.

    The standard library raised ValueError there, which made a 4,400-digit number a 400
    (not JSON) where it is a valid JSON number and a schema violation (a 422): no field
    takes it, and the schema says so ("Input should be a finite number").
    """
    try:
        return int(text)
    except ValueError:
        return float(text)


def _strict_loads(raw: bytes):
    """The reference parser: the standard library, refusing constants and duplicate keys."""
    return json.loads(
        raw, parse_constant=_reject_constant, object_pairs_hook=_object, parse_int=_integer
    )


# A quote followed by whitespace: where a key might be separated from its colon.
_SPACED_QUOTE = re.compile(rb'"[ \t\n\r]')


def _surely_unique(raw: bytes, data) -> bool:
    """True only if no object of `raw` (already parsed into `data`) repeats a key.

    Checked without a parser hook, for the shape of an ingest body: an object with a
    `samples` list of objects. In a text with no quote directly followed by whitespace,
    each key is directly followed by a colon, so there are at least as many `":` as keys
    in all its objects (more if a string holds an escaped quote before a colon). The
    parsed top object and samples hold one member per key of theirs, fewer if a key
    repeats, and objects elsewhere (nested, or dropped by a repeated key) add keys only to
    the text. Equal counts therefore prove that no key repeats anywhere. Any other text
    answers False and is parsed again with the hook: always right, only slower.
    """
    if type(data) is not dict:
        return False
    samples = data.get("samples")
    if type(samples) is not list or any(type(sample) is not dict for sample in samples):
        return False
    if _SPACED_QUOTE.search(raw):
        return False
    return raw.count(b'":') == len(data) + sum(map(len, samples))


def parse_json(raw: bytes):
    """Strict JSON (no NaN/Infinity, no duplicate keys); 400 with a short sentence otherwise.

    The answer is the standard library's (with integers beyond 64 bits read as floats: no
    field accepts one either way). orjson parses a 1000-sample batch in a quarter of the
    time; whatever it refuses, and any text where a repeated key cannot be ruled out
    cheaply, goes through the standard library, which decides and words the error.
    """
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    else:
        if _surely_unique(raw, data):
            return data
    try:
        return _strict_loads(raw)
    except (ValueError, RecursionError):
        raise APIError(400, "Request body is not valid JSON.") from None
