"""How long each workload runs (default or --quick), and what every workload shares."""

import dataclasses
from concurrent.futures import Executor
from datetime import date, timedelta

from bench.stack import Backends
from sungrow_server.testing import Gunicorn

INGEST_CONNECTIONS = 16
REALTIME_CONNECTIONS = 16
DASHBOARDS = 50
FRAMES = ("day", "month", "year", "all")
RANGE = "30 days hourly"
SERIES_CASES = (*FRAMES, RANGE)  # every frame, and a 30-day range at hourly resolution


@dataclasses.dataclass(frozen=True)
class Plan:
    """The size of every workload."""

    runs: int
    ingest_batches: dict[int, int]  # batch size -> batches per connection and run
    realtime_s: float
    series_days: tuple[int, ...]  # one device per data set, each this many days long
    series_requests: int
    series_max_s: float
    fleet_sizes: tuple[int, ...]
    fleet_s: float
    quick: bool

    @classmethod
    def build(cls, runs: int, quick: bool, years: list[float] | None, fleet_sizes: tuple[int, ...]):
        """The default plan (about 15 minutes) or the quick one (about 2)."""
        default = (30,) if quick else (365, 5 * 365)
        days = tuple(round(365 * y) for y in years) if years else default
        return cls(
            runs=runs,
            ingest_batches={30: 25, 1000: 2} if quick else {30: 50, 1000: 4},
            realtime_s=2.0 if quick else 5.0,
            series_days=days,
            series_requests=10 if quick else 30,
            series_max_s=4.0 if quick else 15.0,
            fleet_sizes=fleet_sizes,
            fleet_s=20.0 if quick else 60.0,
            quick=quick,
        )


def ingest_devices() -> list[str]:
    """One device per ingest connection, as each edge daemon posts for its own inverter."""
    return [f"ingest-{c:02d}" for c in range(INGEST_CONNECTIONS)]


def realtime_devices(silent: bool = False) -> list[str]:
    """One device per realtime connection: live ones, or ones silent for a week."""
    prefix = "rt-silent" if silent else "rt"
    return [f"{prefix}-{c:02d}" for c in range(REALTIME_CONNECTIONS)]


def fleet_devices(count: int) -> list[str]:
    """The simulated edge devices of the fleet."""
    return [f"fleet-{i:04d}" for i in range(count)]


def series_device(days: int) -> str:
    """The device holding the series data set of `days` days."""
    return f"series-{days}d"


def all_tokens(fleet_size: int, series_days: tuple[int, ...]) -> dict[str, str]:
    """token -> device for every device the benchmark uses."""
    devices = ingest_devices() + realtime_devices() + realtime_devices(silent=True)
    devices += fleet_devices(fleet_size) + [series_device(days) for days in series_days]
    return {token(device): device for device in devices}


def token(device: str) -> str:
    """The bearer token of a bench device."""
    return f"k-{device}"


@dataclasses.dataclass
class Context:
    """What a workload needs: the plan, the servers and the load process."""

    plan: Plan
    backends: Backends
    server: Gunicorn
    bare: Gunicorn
    load: Executor


def series_query(case: str, today: date, device: str) -> str:
    """The query string of a series case (`today`: the site's date, UTC in the bench)."""
    if case == RANGE:
        start = today - timedelta(days=30)
        return f"device_id={device}&from={start}&to={today}&resolution=hour"
    return f"device_id={device}&frame={case}"


def span(days: int) -> str:
    """`1 year`, `5 years`, `30 days`."""
    if days % 365:
        return f"{days} days"
    return f"{days // 365} year{'' if days == 365 else 's'}"
