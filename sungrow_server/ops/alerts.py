"""`flask alerts`: one webhook message per change of a device's state (stale, refused,
recovered), the state kept in the database so that a rerun or a second host sends
nothing twice."""

import json
import logging
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import psycopg

from ..config import Settings
from .edges import edge_status, known_devices, newest_samples

log = logging.getLogger(__name__)

TIMEOUT_S = 10
# One run at a time across hosts: the check and the sends happen under this lock.
LOCK_KEY = 0x53474F5053  # "SGOPS"
STATE = "SELECT device_id, stale, refused FROM sungrow_alert_state"
SAVE = """
INSERT INTO sungrow_alert_state (device_id, stale, refused, changed_at)
VALUES (%s, %s, %s, now())
ON CONFLICT (device_id) DO UPDATE SET
    stale = EXCLUDED.stale, refused = EXCLUDED.refused, changed_at = EXCLUDED.changed_at
"""
NTFY = {  # event -> (Priority, Tags)
    "stale": ("high", "warning"),
    "refused": ("high", "no_entry"),
    "recovered": ("default", "white_check_mark"),
}


@dataclass(frozen=True)
class Alert:
    """One message to send."""

    event: str  # stale, refused or recovered
    device_id: str
    title: str
    message: str
    facts: dict

    def json_body(self) -> dict:
        """The generic JSON message (`text` for Slack-style receivers)."""
        return {
            "event": self.event,
            "device_id": self.device_id,
            "title": self.title,
            "message": self.message,
            "text": f"{self.title}: {self.message}",
            **self.facts,
        }


def _age(now: datetime, ts: datetime) -> str:
    minutes = int((now - ts).total_seconds() // 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h"


def alerts_for(device_id, was, newest, status, now, stale_after_s) -> tuple[tuple, list[Alert]]:
    """The device's state now (stale, refused) and the messages its change calls for."""
    stale = newest is not None and (now - newest).total_seconds() > stale_after_s
    refused = status["refused_since_stored"] > 0
    facts = {
        "last_ts": newest.isoformat() if newest else None,
        "stale_after_s": stale_after_s,
        "last_refused": status["last_refused"],
        "refused_since_stored": status["refused_since_stored"],
        "at": now.isoformat(),
    }
    was_stale, was_refused = was
    found = []
    if stale and not was_stale:
        found.append(
            Alert(
                "stale",
                device_id,
                f"{device_id} is silent",
                f"No sample from {device_id} since {newest:%Y-%m-%d %H:%M} UTC "
                f"({_age(now, newest)}; STALE_AFTER_S is {stale_after_s}).",
                facts,
            )
        )
    if refused and not was_refused:
        last = status["last_refused"]
        found.append(
            Alert(
                "refused",
                device_id,
                f"{device_id}: batches refused",
                f"The server refused a batch from {device_id} with {last['status']}: "
                f"{last['detail']}. Its edge daemon retries that batch and sends nothing "
                f"newer until it is accepted ({status['refused_since_stored']} refused since "
                "the last stored batch).",
                facts,
            )
        )
    if (was_stale or was_refused) and not (stale or refused):
        since = f" (newest sample {newest:%Y-%m-%d %H:%M} UTC)" if newest else ""
        found.append(
            Alert(
                "recovered",
                device_id,
                f"{device_id} recovered",
                f"{device_id} is sending again and its batches are stored{since}.",
                facts,
            )
        )
    return (stale, refused), found


def send(alert: Alert, url: str, style: str) -> None:
    """POST one message; raises OSError (urllib's errors) when the receiver fails."""
    if style == "ntfy":
        priority, tags = NTFY[alert.event]
        body = alert.message.encode("utf-8")
        headers = {
            "Title": alert.title,
            "Priority": priority,
            "Tags": tags,
            "Content-Type": "text/plain; charset=utf-8",
        }
    else:
        body = json.dumps(alert.json_body()).encode("utf-8")
        headers = {"Content-Type": "application/json"}
    # ALERT_WEBHOOK_URL is checked to be http:// or https:// (config/ops_parsers.webhook_url).
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
        response.read()


def run(settings: Settings, say) -> int:
    """Check every device and send what changed; the number of messages that failed."""
    url = settings.alert_webhook_url
    devices = set(settings.device_tokens.values())
    failed = 0
    with psycopg.connect(settings.database_url, connect_timeout=5) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        previous = {row[0]: (row[1], row[2]) for row in conn.execute(STATE).fetchall()}
        devices |= known_devices(conn) | set(previous)
        newest = newest_samples(conn, devices)
        statuses = edge_status(conn, devices, newest)
        now = conn.execute("SELECT now()").fetchone()[0]
        for device_id in sorted(devices):
            was = previous.get(device_id, (False, False))
            state, found = alerts_for(
                device_id, was, newest[device_id], statuses[device_id], now, settings.stale_after_s
            )
            try:
                for alert in found:
                    send(alert, url, settings.alert_webhook_format)
                    say(f"sent {alert.event} for {device_id}")
            except OSError as exc:
                failed += 1
                # Only scheme and host: a path or query (an ntfy topic, a key) is a secret.
                where = urlsplit(url)
                say(f"could not send to {where.scheme}://{where.hostname}: {type(exc).__name__}")
                continue  # the state stays as it was: the next run tries again
            if state != was:
                conn.execute(SAVE, (device_id, *state))
    return failed
