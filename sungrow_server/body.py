"""Request bodies read within a byte limit (also after gunzip) and parsed as strict JSON."""

import json
import zlib

from flask import Request

from .errors import APIError

CHUNK = 64 * 1024


def too_large(limit: int) -> APIError:
    """The 413 of API.md for a body over the limit."""
    return APIError(413, f"Request body exceeds limit of {limit} bytes.")


def read_body(request: Request, limit: int) -> bytes:
    """The body, at most `limit` bytes once decompressed; 413 as soon as it is known to be more.

    A declared Content-Length over the limit is refused before anything is read; without
    one (chunked) or with one that lies, reading stops one byte past the limit. A gzip
    body is inflated only up to the limit, so a small bomb is refused, never expanded.
    """
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip"):
        raise APIError(415, f"Unsupported Content-Encoding '{encoding}'; use gzip or none.")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS) if encoding == "gzip" else None
    stream = request.stream
    parts, size = [], 0
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            break
        if inflater is not None:
            chunk = _inflate(inflater, chunk, limit - size)
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        parts.append(chunk)
    if inflater is not None and not inflater.eof:
        raise APIError(400, "Request body is not valid gzip.")
    return b"".join(parts)


def _inflate(inflater, chunk: bytes, room: int) -> bytes:
    try:
        out = inflater.decompress(chunk, room + 1)
    except zlib.error:
        raise APIError(400, "Request body is not valid gzip.") from None
    # Output is capped one byte past the room left, so a bomb is caught after that byte.
    return out


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _object(pairs: list[tuple]) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key in an object")
    return result


def parse_json(raw: bytes):
    """Strict JSON (no NaN/Infinity, no duplicate keys); 400 with a short sentence otherwise."""
    try:
        return json.loads(raw, parse_constant=_reject_constant, object_pairs_hook=_object)
    except (ValueError, RecursionError):
        raise APIError(400, "Request body is not valid JSON.") from None
