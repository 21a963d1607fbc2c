"""Every error leaves as `{"detail": ...}`; marshmallow errors as 422 lists of loc/msg/type."""

import logging
from itertools import islice

import psycopg
from flask import Flask, jsonify
from marshmallow import ValidationError
from psycopg_pool import PoolTimeout
from werkzeug.exceptions import HTTPException

from .config import get_settings

log = logging.getLogger(__name__)

# A timestamp that Python reads but RFC 3339 does not (web/fields.Timestamp).
RFC3339_ONLY = (
    "Input should be an RFC 3339 date-time with Z or a +hh:mm offset and at most 6 "
    "fraction digits, such as 2026-11-28T10:00:00Z"
)
# marshmallow message -> error type, in the words edge daemons already parse.
MESSAGE_TYPES = {
    "Field required": "missing",
    "Extra inputs are not permitted": "extra_forbidden",
    "Input should be a valid number": "float_type",
    "Input should be a finite number": "finite_number",
    "Input should be a valid integer": "int_type",
    "Input should be a valid string": "string_type",
    "Input should be a valid list": "list_type",
    "Input should be a valid dictionary": "dict_type",
    "Input should be a valid datetime": "datetime_parsing",
    RFC3339_ONLY: "datetime_parsing",
}


# Most items in one 422 list.
MAX_ITEMS = 100


class APIError(Exception):
    """An error with a status, a detail and optional headers, as API.md lists them."""

    def __init__(self, status: int, detail, headers: dict | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


class DatabaseUnavailable(Exception):
    """The database could not be read in time: 503 with Retry-After, as a pool timeout."""


def error_response(status: int, detail, headers: dict | None = None):
    """The one JSON shape of every error."""
    response = jsonify(detail=detail)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def validation_items(messages, loc=()) -> list[dict]:
    """Flatten marshmallow's nested message dict into loc/msg/type items (see capped)."""
    items = [
        {"loc": list(where), "msg": msg, "type": MESSAGE_TYPES.get(msg, "value_error")}
        for where, msg in islice(_flatten(messages, tuple(loc)), MAX_ITEMS)
    ]
    return capped(items, more=_count(messages) - len(items))


def capped(items: list[dict], more: int = 0) -> list[dict]:
    """The first MAX_ITEMS items of a 422 list, then one saying how many more there were.

    One sample with 125,000 unknown keys once made a 422 of 11.5 MB, and the worker kept
    the memory it took; a client needs the first errors to fix its request, not all.
    """
    more += max(0, len(items) - MAX_ITEMS)
    if not more:
        return items
    rest = {"loc": [], "msg": f"{more} more errors not listed", "type": "too_many_errors"}
    return [*items[:MAX_ITEMS], rest]


def _count(messages) -> int:
    """How many items _flatten yields, without making them."""
    if isinstance(messages, dict):
        return sum(map(_count, messages.values()))
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return len(messages)
    return 1


def _flatten(messages, loc: tuple):
    if isinstance(messages, dict):
        for key, value in messages.items():
            yield from _flatten(value, loc if key == "_schema" else (*loc, key))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        for msg in messages:
            yield loc, msg
    else:
        yield loc, str(messages)


def _api_error(exc: APIError):
    return error_response(exc.status, exc.detail, exc.headers)


def _http_error(exc: HTTPException):
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    return error_response(exc.code or 500, exc.name, headers)


def _validation_error(exc: ValidationError):
    return error_response(422, validation_items(exc.messages))


def _database_unavailable(exc: Exception):
    settings = get_settings()
    log.warning("database unavailable: %s: %s", type(exc).__name__, settings.redact(str(exc)))
    retry_after = str(settings.retry_after_s)
    return error_response(
        503, "Database unavailable, try again later.", {"Retry-After": retry_after}
    )


def _unexpected(exc: Exception):
    log.exception("unhandled error")
    return error_response(500, "Internal server error.")


def register_error_handlers(app: Flask) -> None:
    """Install the handlers that shape every error answer."""
    app.register_error_handler(APIError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(ValidationError, _validation_error)
    app.register_error_handler(psycopg.OperationalError, _database_unavailable)
    app.register_error_handler(PoolTimeout, _database_unavailable)
    app.register_error_handler(DatabaseUnavailable, _database_unavailable)
    app.register_error_handler(Exception, _unexpected)
