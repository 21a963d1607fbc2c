"""LOG_FORMAT=json: one JSON object per line, for gunicorn's access log and the app's own
lines. Fields are chosen one by one, so no header (Authorization), body or query string
can reach a line."""

import json
import logging
from datetime import UTC, datetime

from flask import g, has_request_context, request


def _now(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """The app's and gunicorn's own lines: time, level, logger, message, and inside a
    request its id and device."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": _now(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context():
            line["request_id"] = request.environ.get("sungrow.request_id")
            line["method"] = request.method
            line["path"] = request.path
            line["device"] = g.get("device_id")
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class JsonAccessFormatter(logging.Formatter):
    """gunicorn's access lines (record.args holds its atoms) as JSON. `client` is the
    `client` atom of gunicorn.conf.py's AccessLogger: the address as the throttle reads it
    (behind TRUSTED_PROXIES, the forwarded one), found only for the lines written."""

    def format(self, record: logging.LogRecord) -> str:
        atoms = record.args if isinstance(record.args, dict) else {}

        def atom(name):
            value = atoms.get(name)
            return None if value in (None, "-") else value

        duration_us = atom("D")
        line = {
            "time": _now(record),
            "level": "info",
            "logger": "access",
            "request_id": atom("{sungrow.request_id}e") or atom("{x-request-id}o"),
            "client": atom("client") or atom("h"),
            "method": atom("m"),
            "path": atom("U"),
            "status": int(atoms["s"]) if str(atoms.get("s", "")).isdigit() else None,
            "duration_ms": round(duration_us / 1000, 3) if duration_us is not None else None,
            "bytes": atom("B"),
            "device": atom("{sungrow.device_id}e"),
            "user_agent": atom("a"),
        }
        return json.dumps(line, default=str)


def logging_config(level: str, log_format: str) -> dict:
    """gunicorn's `logconfig_dict`: app lines to stderr, access lines to stdout."""
    json_lines = log_format == "json"
    generic = {"format": "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"}
    access = {"format": "%(message)s"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "root": {"level": level.upper(), "handlers": ["console"]},
        "loggers": {
            "gunicorn.error": {
                "level": level.upper(),
                "handlers": ["console"],
                "propagate": False,
            },
            "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "generic",
                "stream": "ext://sys.stderr",
            },
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "access",
                "stream": "ext://sys.stdout",
            },
        },
        "formatters": {
            "generic": {"()": JsonFormatter} if json_lines else generic,
            "access": {"()": JsonAccessFormatter} if json_lines else access,
        },
    }
