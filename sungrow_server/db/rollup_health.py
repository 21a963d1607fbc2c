"""Whether the continuous aggregates keep up: their policies' runs, what TimescaleDB has
recorded as invalidated, and a refresh of exactly that which does not need its scheduler.

On some PostgreSQL builds every TimescaleDB background job fails (PostgreSQL 15.20 with
TimescaleDB 2.19 and 2.28: `cannot drop portal "" while it is being set up`), while a
refresh called by hand works. A late batch then shows in raw answers but stays out of
the materialised rollups, whose stale buckets /v1/series would read. `refresh_invalidated`
(`refresh-aggregates --invalidated`, run each minute by sungrow-refresh-aggregates.timer)
heals them; `health` says whether anything does.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from psycopg import Connection

from ..model.rollups import VIEWS

# A refresh (policy or command) older than this while the policies fail: not healing.
HEAL_WINDOW = timedelta(minutes=15)
# Internal time of TimescaleDB (microseconds since 1970); below this lies "no data".
MIN_INTERNAL = -210866803200000000
# A bucket of each level and more (DST days, long months), to widen a refresh window.
WIDTH = {"hour": timedelta(hours=1), "day": timedelta(days=2), "month": timedelta(days=32)}
REFRESHED_KEY = "rollups_refreshed_at"

POLICIES = """
SELECT ca.view_name, j.job_id, j.schedule_interval, nullif(j.next_start, '-infinity'),
       (j.config ->> 'end_offset')::interval, s.last_run_status,
       nullif(s.last_successful_finish, '-infinity'),
       coalesce(s.total_failures, 0),
       (SELECT e.err_message FROM timescaledb_information.job_errors e
        WHERE e.job_id = j.job_id ORDER BY e.finish_time DESC NULLS LAST LIMIT 1)
FROM timescaledb_information.continuous_aggregates ca
JOIN timescaledb_information.jobs j
  ON j.hypertable_schema = ca.materialization_hypertable_schema
 AND j.hypertable_name = ca.materialization_hypertable_name
LEFT JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id
WHERE j.proc_name = 'policy_refresh_continuous_aggregate' AND ca.view_name = ANY(%s)
"""
# Per level: its watermark (end of the data materialised), how far refreshes reached (the
# invalidation threshold of its source), and the invalidations that lie
# below it (changes to rows it has already materialised), from the log of its source
# hypertable and its own materialisation log.
LEVELS = """
SELECT ca.user_view_name, w.watermark, t.watermark,
       min(e.lowest) FILTER (WHERE e.lowest < w.watermark AND e.greatest >= %(min)s),
       count(e.lowest) FILTER (WHERE e.lowest < w.watermark AND e.greatest >= %(min)s)
FROM _timescaledb_catalog.continuous_agg ca
JOIN _timescaledb_catalog.continuous_aggs_watermark w USING (mat_hypertable_id)
LEFT JOIN _timescaledb_catalog.continuous_aggs_invalidation_threshold t
  ON t.hypertable_id = ca.raw_hypertable_id
LEFT JOIN LATERAL (
    SELECT lowest_modified_value AS lowest, greatest_modified_value AS greatest
    FROM _timescaledb_catalog.continuous_aggs_hypertable_invalidation_log
    WHERE hypertable_id = ca.raw_hypertable_id
    UNION ALL
    SELECT lowest_modified_value, greatest_modified_value
    FROM _timescaledb_catalog.continuous_aggs_materialization_invalidation_log
    WHERE materialization_id = ca.mat_hypertable_id
) e ON true
WHERE ca.user_view_name = ANY(%(views)s)
GROUP BY ca.user_view_name, w.watermark, t.watermark
"""


@dataclass(frozen=True)
class Policy:
    """A refresh policy and how its runs went."""

    view: str
    job_id: int
    schedule: timedelta
    next_start: datetime | None
    end_offset: timedelta
    last_status: str | None
    last_success: datetime | None
    failures: int
    last_error: str | None

    def failing(self, now: datetime) -> bool:
        """Its last run failed, or it never succeeded and is long overdue."""
        if self.last_status == "Failed":
            return True
        overdue = self.next_start is not None and self.next_start < now - self.schedule
        return self.last_success is None and overdue


@dataclass(frozen=True)
class Level:
    """A rollup view: the end of what it has materialised, how far refreshes reached, and
    what is invalid below its watermark."""

    view: str
    watermark: datetime | None
    refreshed_to: datetime | None
    pending_from: datetime | None
    pending: int


@dataclass(frozen=True)
class Health:
    """Whether something keeps the rollups materialised, and why not."""

    policies: list[Policy]
    refreshed_at: datetime | None

    @property
    def failing(self) -> list[Policy]:
        now = datetime.now(UTC)
        return [policy for policy in self.policies if policy.failing(now)]

    @property
    def healed(self) -> bool:
        """The refresh command ran recently (sungrow-refresh-aggregates.timer)."""
        recent = datetime.now(UTC) - HEAL_WINDOW
        return self.refreshed_at is not None and self.refreshed_at >= recent

    @property
    def ok(self) -> bool:
        return not self.failing or self.healed

    def problem(self) -> str | None:
        """One sentence saying why late samples stay out of the rollups, or None."""
        if self.ok:
            return None
        failing = self.failing
        error = next((p.last_error for p in failing if p.last_error), None)
        cause = f" (last error: {error})" if error else " (they have not run)"
        return (
            f"The refresh policies of {', '.join(p.view for p in failing)} are failing{cause}"
            " and refresh-aggregates has not run in the last "
            f"{int(HEAL_WINDOW.total_seconds() // 60)} minutes: late samples stay out of "
            "the materialised rollups."
        )


def to_time(internal: int | None) -> datetime | None:
    """TimescaleDB's internal time (microseconds since 1970) as a datetime; None for none."""
    if internal is None or internal <= MIN_INTERNAL:
        return None
    try:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=internal)
    except OverflowError:
        return None


def policies(conn: Connection) -> list[Policy]:
    """The rollups' refresh policies with their last runs."""
    rows = conn.execute(POLICIES, (list(VIEWS.values()),)).fetchall()
    return sorted((Policy(*row) for row in rows), key=lambda p: list(VIEWS.values()).index(p.view))


def levels(conn: Connection) -> list[Level]:
    """Each rollup view's watermark and pending invalidations, finest first."""
    rows = conn.execute(LEVELS, {"min": MIN_INTERNAL, "views": list(VIEWS.values())}).fetchall()
    found = {
        view: Level(view, to_time(mark), to_time(reach), to_time(low), n)
        for view, mark, reach, low, n in rows
    }
    return [found[view] for view in VIEWS.values() if view in found]


def refreshed_at(conn: Connection) -> datetime | None:
    """When the refresh command last completed."""
    row = conn.execute(
        "SELECT value FROM sungrow_schema_state WHERE key = %s", (REFRESHED_KEY,)
    ).fetchone()
    return datetime.fromisoformat(row[0]) if row else None


def record_refresh(conn: Connection) -> None:
    """Remember that the refresh command completed now."""
    conn.execute(
        "INSERT INTO sungrow_schema_state (key, value) VALUES (%s, now()::text) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (REFRESHED_KEY,),
    )


def health(conn: Connection) -> Health:
    """The policies' runs and the refresh command's last run."""
    return Health(policies(conn), refreshed_at(conn))


def refresh_invalidated(conn: Connection, say) -> int:
    """Refresh each level over what is invalid below its watermark and up to its policy's
    end offset, lowest level first; a level with nothing to do is not called. Returns how
    many levels were refreshed. `conn` must be in autocommit."""
    offsets = {p.view: p.end_offset for p in policies(conn)}
    done = 0
    for resolution, view in VIEWS.items():
        level = next((lv for lv in levels(conn) if lv.view == view), None)
        if level is None:
            continue
        now = conn.execute("SELECT now()").fetchone()[0]
        end = now - offsets.get(view, timedelta(0))
        start = level.pending_from or level.refreshed_to
        if level.pending_from is None and start is not None and end - start < WIDTH[resolution]:
            continue  # nothing invalid, and no whole bucket newly old enough
        if start is not None:
            start = min(start, end) - WIDTH[resolution]
        conn.execute(
            "CALL refresh_continuous_aggregate(%s::regclass, %s::timestamptz, %s::timestamptz)",
            (view, start, end),
        )
        say(
            f"refreshed {view}"
            + (
                f": {level.pending} invalidated range(s) from {level.pending_from:%Y-%m-%d %H:%M}"
                if level.pending_from
                else ""
            )
        )
        done += 1
    record_refresh(conn)
    return done
