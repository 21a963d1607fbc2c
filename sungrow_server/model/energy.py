"""How energy is derived from samples: the per-row columns and the SQL that keeps them.

Each stored sample stands for the time since the previous sample of its device:
- `interval_s`: seconds since that previous sample; NULL for a device's first sample and
  after a gap, an interval longer than MAX_GAP_S: a gap counts as no data, and no energy
  is integrated across it.
- `pv_energy_kwh`: PV energy of that interval. Where the inverter reports its daily
  counter (`pv_daily_kwh`), it is the counter's increase since the previous sample; the
  whole counter on a device's first sample of a local day (the counter restarts at the
  inverter's local midnight); the counter itself after a reset. Where there is no counter,
  it is `pv_power_w` (negative values as 0) times the interval.
The other energies (load, grid export and import, battery charge and discharge) are
integrated from power the same way when buckets are summed. A local day whose samples
all carry the counter therefore has exactly the inverter's own daily figure.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .localtime import local_day

MAX_GAP_S = 300
MAX_GAP = timedelta(seconds=MAX_GAP_S)

# Over a relation with ts, prev_ts, pv_power_w, pv_daily_kwh, prev_kwh; %(timezone)s is
# the site zone (the inverter's local midnight).
INTERVAL = (
    f"CASE WHEN ts - prev_ts <= make_interval(secs => {MAX_GAP_S}) "
    "THEN extract(epoch FROM ts - prev_ts) END"
)
PV_ENERGY = f"""CASE
    WHEN pv_daily_kwh IS NOT NULL AND (prev_ts IS NULL
         OR date_trunc('day', prev_ts, %(timezone)s) <> date_trunc('day', ts, %(timezone)s))
        THEN pv_daily_kwh
    WHEN pv_daily_kwh IS NOT NULL AND prev_kwh IS NOT NULL
        THEN CASE WHEN pv_daily_kwh >= prev_kwh THEN pv_daily_kwh - prev_kwh ELSE pv_daily_kwh END
    ELSE greatest(pv_power_w, 0) * coalesce({INTERVAL}, 0) / 3600000.0
END"""


def derive(
    previous: tuple[datetime, float | None] | None, samples: list[dict], zone: ZoneInfo
) -> list[tuple[float | None, float]]:
    """`interval_s` and `pv_energy_kwh` of samples in time order that follow `previous`
    (its ts and counter, or None): INTERVAL and PV_ENERGY above, step for step in Python,
    for batches that only append (no stored neighbour after them)."""
    derived = []
    prev_ts, prev_kwh = previous or (None, None)
    prev_day = prev_ts.astimezone(zone).date() if prev_ts is not None else None
    day, day_start, day_end = None, None, None
    for sample in samples:
        ts, kwh = sample["ts"], sample["pv_daily_kwh"]
        interval = None
        if prev_ts is not None and ts - prev_ts <= MAX_GAP:
            interval = (ts - prev_ts).total_seconds()
        if day is None or not day_start <= ts < day_end:
            day, day_start, day_end = local_day(ts, zone)
        if kwh is not None and day != prev_day:
            energy = kwh
        elif kwh is not None and prev_kwh is not None:
            energy = kwh - prev_kwh if kwh >= prev_kwh else kwh
        else:
            energy = max(sample["pv_power_w"], 0.0) * (interval or 0.0) / 3600000.0
        derived.append((interval, energy))
        prev_ts, prev_kwh, prev_day = ts, kwh, day
    return derived


# How far from a sample its neighbours can matter: a neighbour on the same local day (at
# most 25 hours long) or within MAX_GAP_S. Beyond it a sample's previous one is a gap.
REACH = timedelta(hours=26)

# Energies summed over a bucket from raw rows, by output name. (Rows stored before gaps
# were NULL may hold intervals over MAX_GAP_S: they count as 0 here.)
USABLE_ROW = f"CASE WHEN interval_s <= {MAX_GAP_S} THEN interval_s ELSE 0 END"
SUMS = {
    "covered_s": f"sum({USABLE_ROW})",
    "pv_energy_kwh": "sum(pv_energy_kwh)",
    "load_energy_kwh": f"sum(greatest(load_power_w, 0) * {USABLE_ROW}) / 3600000.0",
    "export_energy_kwh": f"sum(greatest(export_power_w, 0) * {USABLE_ROW}) / 3600000.0",
    "import_energy_kwh": f"sum(greatest(-export_power_w, 0) * {USABLE_ROW}) / 3600000.0",
    "battery_charge_kwh": f"sum(greatest(battery_power_w, 0) * {USABLE_ROW}) / 3600000.0",
    "battery_discharge_kwh": f"sum(greatest(-battery_power_w, 0) * {USABLE_ROW}) / 3600000.0",
}

# Every device's derived columns from scratch (init-db, when they are new or the site
# zone changed); only rows whose values differ are written.
RECOMPUTE_ALL = f"""
UPDATE sungrow_samples s
SET interval_s = d.interval_s, pv_energy_kwh = d.pv_energy_kwh
FROM (
    SELECT device_id, ts, {INTERVAL} AS interval_s, {PV_ENERGY} AS pv_energy_kwh
    FROM (
        SELECT device_id, ts, pv_power_w, pv_daily_kwh,
               lag(ts) OVER w AS prev_ts, lag(pv_daily_kwh) OVER w AS prev_kwh
        FROM sungrow_samples
        WINDOW w AS (PARTITION BY device_id ORDER BY ts)
    ) m
) d
WHERE s.device_id = d.device_id AND s.ts = d.ts
  AND (s.interval_s IS DISTINCT FROM d.interval_s
       OR s.pv_energy_kwh IS DISTINCT FROM d.pv_energy_kwh)
"""
