"""GET /v1/realtime?site_id=: the newest sample of each member, and their sum."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
from psycopg_pool import ConnectionPool

from .cache import RealtimeCache, sample_json
from .latest import latest_sample

POWERS = ("pv_power_w", "battery_power_w", "load_power_w", "export_power_w")


def member_samples(
    cache: RealtimeCache, pool: ConnectionPool, members: tuple[str, ...]
) -> list[dict | None]:
    """The newest sample of each member (None: no data): one MGET for all of them, then
    PostgreSQL for those the cache does not hold, offering what it finds to the cache."""
    samples = cache.get_many(list(members))
    missing = [index for index, found in enumerate(samples) if found is None]
    if missing:
        with pool.connection() as conn:
            for index in missing:
                stored = latest_sample(conn, members[index])
                if stored is not None:
                    body = sample_json(stored)
                    cache.offer(stored, body)
                    samples[index] = orjson.loads(body)
    return samples


def site_total(
    samples: list[dict | None], stale_after_s: int, timezone: str, now: datetime | None = None
) -> dict:
    """The members' sum as a meter of the whole site would read it.

    Powers and state of charge count the members whose newest sample is at most
    `stale_after_s` old (a silent inverter's last reading is not a current one):
    powers summed, state of charge averaged. `pv_daily_kwh` sums the members' daily
    counters read today (local day of `timezone`): a member silent since the afternoon
    still made what its counter said, but yesterday's counter is not today's energy.
    """
    now = now or datetime.now(UTC)
    today = now.astimezone(ZoneInfo(timezone)).date()
    stamped = [(datetime.fromisoformat(s["ts"]), s) for s in samples if s is not None]
    fresh = [s for ts, s in stamped if now - ts <= timedelta(seconds=stale_after_s)]
    counters = [
        s["pv_daily_kwh"]
        for ts, s in stamped
        if s.get("pv_daily_kwh") is not None and ts.astimezone(ZoneInfo(timezone)).date() == today
    ]
    socs = [s["battery_soc_pct"] for s in fresh if s.get("battery_soc_pct") is not None]
    newest = max((ts for ts, _ in stamped), default=None)
    return {
        "ts": newest.astimezone(UTC).isoformat() if newest else None,
        **{name: float(sum(s[name] for s in fresh)) for name in POWERS},
        "pv_daily_kwh": float(sum(counters)) if counters else None,
        "battery_soc_pct": sum(socs) / len(socs) if socs else None,
        "devices_reporting": len(fresh),
    }


def site_realtime(
    cache: RealtimeCache,
    pool: ConnectionPool,
    site_id: str,
    members: tuple[str, ...],
    stale_after_s: int,
    timezone: str,
) -> dict:
    """The answer for a site: each member's newest sample (ts null without data), and the total."""
    samples = member_samples(cache, pool, members)
    devices = [
        sample if sample is not None else {"device_id": device_id, "ts": None}
        for device_id, sample in zip(members, samples, strict=True)
    ]
    return {
        "site_id": site_id,
        "devices": devices,
        "total": site_total(samples, stale_after_s, timezone),
    }
