"""The columns of sungrow_samples as the edge daemon sends them, and their SQL types."""

MEASUREMENTS = (
    "pv_power_w",
    "pv_daily_kwh",
    "battery_power_w",
    "battery_soc_pct",
    "battery_temp_c",
    "load_power_w",
    "export_power_w",
)
COLUMNS = ("device_id", "ts", *MEASUREMENTS, "sample_count")
# Kept per row by the write path (see energy.py), not sent by the edge.
DERIVED = ("interval_s", "pv_energy_kwh")

TYPES = {"device_id": "text", "ts": "timestamptz", "sample_count": "int4"}
TYPES.update({name: "float8" for name in MEASUREMENTS})
