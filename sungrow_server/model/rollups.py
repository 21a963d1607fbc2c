"""The rollup levels: their views and the columns each keeps (sums and counts, never
averages, so that every level above stays an exact mean over raw samples)."""

from .energy import SUMS

# The rollup views, by the resolution of their buckets, finest first.
VIEWS = {"hour": "sungrow_hourly", "day": "sungrow_daily", "month": "sungrow_monthly"}
# Measurements whose average a bucket gives (kept as sums), and the one whose peak it gives.
AVERAGED = ("pv_power_w", "battery_power_w", "battery_soc_pct", "load_power_w", "export_power_w")
PEAK = "pv_power_w"


def raw_columns() -> list[str]:
    """The lowest level's columns, from raw rows: counts, sums, the peak, covered time and
    energies (energy.SUMS)."""
    columns = ["count(*) AS n_rows", "sum(sample_count)::bigint AS sample_count"]
    for name in AVERAGED:
        columns.append(f"sum({name}) AS sum_{name}")
        if name == PEAK:
            columns.append(f"max({name}) AS max_{name}")
    columns += [f"{expression} AS {name}" for name, expression in SUMS.items()]
    return columns


def rolled_columns() -> list[str]:
    """A level's columns from the level below it: the same names, summed (the peak: max)."""
    columns = ["sum(n_rows)::bigint AS n_rows", "sum(sample_count)::bigint AS sample_count"]
    for name in AVERAGED:
        columns.append(f"sum(sum_{name}) AS sum_{name}")
        if name == PEAK:
            columns.append(f"max(max_{name}) AS max_{name}")
    columns += [f"sum({name}) AS {name}" for name in SUMS]
    return columns
