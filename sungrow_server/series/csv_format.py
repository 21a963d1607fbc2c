"""Series as CSV: one row per bucket, with its local date and time, for a spreadsheet."""

import csv
import io
from datetime import UTC
from zoneinfo import ZoneInfo

from flask import Request, current_app

from .request import SeriesRequest
from .shape import FIELDS


def wants_csv(args: dict, request: Request) -> bool:
    """`format=csv`, or an Accept header that prefers text/csv."""
    if "format" in args:
        return args["format"] == "csv"
    return request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv"


def csv_response(query: SeriesRequest, buckets: list[dict], subject: str | None = None):
    """One row per bucket, with its local date and time, ready for a spreadsheet; the file
    is named after `subject` (default the device)."""
    zone = ZoneInfo(query.timezone)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["bucket_utc", "local_date", "local_time", *FIELDS[1:]])
    for bucket in buckets:
        local = bucket["bucket"].astimezone(zone)
        writer.writerow(
            [
                bucket["bucket"].astimezone(UTC).isoformat(),
                local.date().isoformat(),
                local.strftime("%H:%M"),
                *(bucket[name] for name in FIELDS[1:]),
            ]
        )
    subject = subject or query.device_id
    device = "".join(c if c.isalnum() or c in "-_." else "_" for c in subject)
    name = f"sungrow-{device[:64]}-{query.resolution}.csv"
    return current_app.response_class(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
