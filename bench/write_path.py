"""Compare ways to store an ingest batch atomically with ON CONFLICT DO NOTHING to a raw COPY."""

import argparse
import contextlib
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import Connection, sql
from psycopg.conninfo import make_conninfo

from sungrow_server.ingest.write import create_stage, insert_samples
from sungrow_server.model.columns import COLUMNS, MEASUREMENTS

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_DB = "sungrow_bench_write"
SCHEMA = Path(__file__).resolve().parent.parent / "sql" / "001_samples.sql"
COLS = ", ".join(COLUMNS)
TYPES = ["text", "timestamptz", *["float8"] * len(MEASUREMENTS), "int4"]
COPY_MAIN = f"COPY sungrow_samples ({COLS}) FROM STDIN (FORMAT BINARY)"
UNNEST = (
    f"INSERT INTO sungrow_samples ({COLS}) SELECT %s, * FROM unnest(%s::timestamptz[], "
    f"{', '.join(['%s::float8[]'] * len(MEASUREMENTS))}, %s::int4[]) "
    "ON CONFLICT (device_id, ts) DO NOTHING"
)
INSERT_ONE = (
    f"INSERT INTO sungrow_samples ({COLS}) VALUES ({', '.join(['%s'] * len(COLUMNS))}) "
    "ON CONFLICT (device_id, ts) DO NOTHING"
)
# Rows stored per run and batch size: keeps the whole script under about a minute on 2 cores.
ROWS = {30: 3_000, 1000: 20_000}

Variant = Callable[[Connection, str, list[dict]], int]


def make_samples(total: int) -> list[dict]:
    """Samples one second apart, shaped as the ingest endpoint hands them to insert_samples."""
    start = datetime(2024, 6, 1, tzinfo=UTC)
    return [
        {
            "ts": start + timedelta(seconds=i),
            "pv_power_w": (i * 37) % 8000 + 0.5,
            "pv_daily_kwh": None if i % 10 == 0 else i % 4000 / 100,
            "battery_power_w": (i * 53) % 10000 - 5000.25,
            "battery_soc_pct": i % 1000 / 10,
            "battery_temp_c": None if i % 7 == 0 else 5 + i % 400 / 10,
            "load_power_w": (i * 71) % 9000 + 0.75,
            "export_power_w": (i * 29) % 12000 - 6000.5,
            "sample_count": 1 + i % 5,
        }
        for i in range(total)
    ]


def as_row(device_id: str, sample: dict) -> tuple:
    """One sample as a tuple in the table's column order."""
    return (device_id, sample["ts"], *(sample[m] for m in MEASUREMENTS), sample["sample_count"])


def copy_rows(conn: Connection, statement: str, device_id: str, samples: list[dict]) -> int:
    """Binary COPY of samples with the given COPY statement; the number of rows copied."""
    with conn.cursor() as cursor:
        with cursor.copy(statement) as copy:
            copy.set_types(TYPES)
            for sample in samples:
                copy.write_row(as_row(device_id, sample))
        return cursor.rowcount


def via_server(conn: Connection, device_id: str, batch: list[dict]) -> int:
    """A: the server's own insert_samples (here appending: one check, then binary COPY)."""
    return insert_samples(conn, device_id, batch, "UTC")[0]


def via_unnest(conn: Connection, device_id: str, batch: list[dict]) -> int:
    """B: one INSERT ... SELECT FROM unnest() of one array per column."""
    columns = [[sample[name] for sample in batch] for name in ("ts", *MEASUREMENTS)]
    counts = [sample["sample_count"] for sample in batch]
    return conn.execute(UNNEST, (device_id, *columns, counts), prepare=True).rowcount


def via_executemany(conn: Connection, device_id: str, batch: list[dict]) -> int:
    """C: pipelined executemany of a one-row INSERT ... ON CONFLICT DO NOTHING."""
    with conn.cursor() as cursor:
        cursor.executemany(INSERT_ONE, [as_row(device_id, sample) for sample in batch])
        return cursor.rowcount


def via_copy(conn: Connection, device_id: str, batch: list[dict]) -> int:
    """D: plain binary COPY straight into sungrow_samples, no conflict handling (the ceiling)."""
    return copy_rows(conn, COPY_MAIN, device_id, batch)


# (label, variant, whether half of every batch is stored before the timed run)
CASES: list[tuple[str, Variant, bool]] = [
    ("D raw COPY (ceiling)", via_copy, False),
    ("A insert_samples (appending: check + COPY)", via_server, False),
    ("B one INSERT over unnest arrays", via_unnest, False),
    ("C executemany, 1 row/stmt", via_executemany, False),
    ("A insert_samples, 50% retried (merged)", via_server, True),
    ("B unnest, 50% retried", via_unnest, True),
]


def measure(conn: Connection, case: tuple, batches: list[list[dict]], device_id: str) -> float:
    """Store each batch in its own transaction; samples per second. Raises on a wrong count."""
    label, variant, retried = case
    if retried:
        with conn.transaction():
            for batch in batches:
                copy_rows(conn, COPY_MAIN, device_id, batch[::2])
    started = time.perf_counter()
    for number, batch in enumerate(batches):
        with conn.transaction():
            count = variant(conn, device_id, batch)
        expected = len(batch) // 2 if retried else len(batch)  # batch[::2] is stored
        if count != expected:
            raise RuntimeError(f"{label}: batch {number} counted {count}, expected {expected}")
    elapsed = time.perf_counter() - started
    total = sum(len(batch) for batch in batches)
    query = "SELECT count(*) FROM sungrow_samples WHERE device_id = %s"
    stored = conn.execute(query, (device_id,)).fetchone()[0]
    conn.execute("DELETE FROM sungrow_samples WHERE device_id = %s", (device_id,))
    if stored != total:
        raise RuntimeError(f"{label}: {stored} rows stored, expected {total}")
    return total / elapsed


def run(conn: Connection, runs: int) -> dict[tuple[str, int], tuple[list[float], list[float]]]:
    """Every case and batch size, `runs` times in rotating order: (rates, ratios to D)."""
    token = uuid.uuid4().hex[:8]
    create_stage(conn)
    results = {}
    for size, total in ROWS.items():
        samples = make_samples(total)
        batches = [samples[i : i + size] for i in range(0, total, size)]
        for case in CASES:
            measure(conn, case, batches[:3], f"bench-{token}-warmup")
        for number in range(runs):
            order = CASES[number % len(CASES) :] + CASES[: number % len(CASES)]
            rates = {
                c[0]: measure(conn, c, batches, f"bench-{token}-{size}-{number}-{i}")
                for i, c in enumerate(order)
            }
            for label, rate in rates.items():
                entry = results.setdefault((label, size), ([], []))
                entry[0].append(rate)
                entry[1].append(rate / rates[CASES[0][0]])
            conn.execute("VACUUM sungrow_samples")  # the deleted rows of this run, untimed
    return results


def table(results: dict, runs: int) -> str:
    """The results as a markdown table."""
    lines = [
        f"| variant | batch | rows/run | samples/s (median of {runs}) | min / max | vs D |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for (label, size), (rates, ratios) in results.items():
        lines.append(
            f"| {label} | {size} | {ROWS[size]} | {statistics.median(rates):,.0f} "
            f"| {min(rates):,.0f} / {max(rates):,.0f} | {statistics.median(ratios):.2f} |"
        )
    return "\n".join(lines)


@contextlib.contextmanager
def database(url: str | None) -> Iterator[str]:
    """The given database as is, or a throwaway one that is dropped at the end, also on error."""
    if url:
        yield url
        return
    drop = sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(BENCH_DB))
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(drop)
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DB)))
    try:
        yield make_conninfo(ADMIN_URL, dbname=BENCH_DB)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(drop)


def main() -> None:
    """Parse the arguments, run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", help="use this database as is (default: throwaway)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per case (default 5)")
    args = parser.parse_args()
    with database(args.database_url) as url, psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SCHEMA.read_text())
        results = run(conn, args.runs)
        print(table(results, args.runs))


if __name__ == "__main__":
    main()
