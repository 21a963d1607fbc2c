"""The results as markdown: one table of figures against targets, the fleet ladder, the machine."""

import math

from bench.fleet import KINDS, P99_LIMIT_S
from bench.loadclient import total_errors
from bench.plan import RANGE, SERIES_CASES, span

HEADER = (
    "| # | workload | measure | result | reference (same run) | ratio | errors | load CPU "
    "| target | verdict |\n|---|---|---|---:|---:|---:|---:|---:|---|---|"
)
FLEET_TARGET = 2000


def ms(seconds: float) -> str:
    """Seconds as milliseconds with one decimal."""
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.1f} ms"


def errors(found: dict[str, int]) -> str:
    """`0`, or the errors by kind."""
    return ", ".join(f"{kind} x{n}" for kind, n in sorted(found.items())) or "0"


def at_least(ratio: float, target: float, unit: str) -> str:
    """The verdict on a ratio that should reach `target`."""
    if ratio >= target:
        return f"met ({ratio:.2f}x ≥ {target}x)"
    short = target - ratio
    return f"**missed** by {short:.2f}x {unit} ({short / target:.0%} below the target)"


def at_most(seconds: float, limit_ms: float) -> str:
    """The verdict on a p50 that should stay under `limit_ms`."""
    value = seconds * 1000
    if math.isnan(value):
        return "**missed**: no request succeeded"
    if value <= limit_ms:
        return f"met ({value:.1f} ≤ {limit_ms:g} ms)"
    over = value - limit_ms
    return f"**missed** by {over:.1f} ms ({over / limit_ms:.0%} over the limit)"


def plural(count: int, noun: str) -> str:
    """`1 request`, `30 requests`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def row(*cells: str) -> str:
    """One markdown table row."""
    return "| " + " | ".join(cells) + " |"


def ingest_rows(found: list[dict]) -> list[str]:
    """Workload 1."""
    lines = []
    for item in found:
        target = item["size"] == 1000
        lines.append(
            row(
                "1",
                f"ingest, batches of {item['size']}",
                "samples/s over HTTP (p50 / p99 per batch)",
                f"{item['rate']:,.0f}/s ({ms(item['p50'])} / {ms(item['p99'])})",
                f"binary COPY {item['copy']:,.0f}/s",
                f"{item['ratio']:.2f}x",
                errors(item["errors"]),
                f"{item['cpu']:.0%}",
                "≥ 0.5x COPY" if target else "none",
                at_least(item["ratio"], 0.5, "of COPY") if target else "",
            )
        )
    return lines


def realtime_rows(found: dict[str, dict]) -> list[str]:
    """Workload 2."""
    lines = []
    silent = f"cache misses, devices silent 7 days ({found['silent']['newer_rows']:,} newer rows)"
    labels = {
        "bare": "bare Flask",
        "bare+redis": "bare Flask + one Redis GET (the floor for a cached answer)",
        "hit": "cache hits",
        "miss": "cache misses",
        "silent": silent,
    }
    for mode, label in labels.items():
        item = found[mode]
        bare = mode == "bare"
        lines.append(
            row(
                "2",
                f"realtime, {label}",
                "requests/s (p50 / p99)",
                f"{item['rate']:,.0f}/s ({ms(item['p50'])} / {ms(item['p99'])})",
                "" if bare else f"bare Flask {found['bare']['rate']:,.0f}/s",
                "" if bare else f"{item['ratio']:.2f}x",
                errors(item["errors"]),
                f"{item['cpu']:.0%}",
                "≥ 0.8x bare" if mode == "hit" else "none",
                at_least(item["ratio"], 0.8, "of bare") if mode == "hit" else "",
            )
        )
    return lines


def series_result(item: dict) -> str:
    """p50 / p99, or what went wrong."""
    if math.isnan(item["p50"]):
        return f"no answer ({errors(item['errors'])} after {item['failed_after']:.1f} s)"
    return f"{ms(item['p50'])} / {ms(item['p99'])}"


def series_rows(found: dict[str, dict | None]) -> list[str]:
    """Workload 3: every case on the aggregates, then on the fallback, per data set."""
    lines = []
    for source in ("aggregates", "fallback"):
        if found.get(source) is None:
            lines.append(row("3", f"series, {source}", "", "not available here", *[""] * 6))
            continue
        for days, cases in found[source].items():
            for frame in SERIES_CASES:
                lines.append(series_row(cases[frame], frame, f"{source}, {span(days)}", source))
    return lines


def series_row(item: dict, frame: str, where: str, source: str) -> str:
    """One series case."""
    limit = 10 if source == "aggregates" else (50 if frame == "day" else None)
    slow = ", first run only: over the time budget" if item["slow"] else ""
    buckets = f"; {plural(item['buckets'], 'bucket')}" if item["buckets"] else ""
    return row(
        "3",
        f"series {frame if frame == RANGE else f'`{frame}`'}, {where}",
        f"p50 / p99 ({plural(item['requests'], 'request')}{slow}{buckets})",
        series_result(item),
        "",
        "",
        errors(item["errors"]),
        "",
        f"p50 ≤ {limit} ms" if limit else "none",
        at_most(item["p50"], limit) if limit else "",
    )


def fleet_rows(steps: list[dict]) -> list[str]:
    """Workloads 4 and 5."""
    passed = [step["size"] for step in steps if step["ok"]]
    best = max(passed, default=0)
    tried = ", ".join(str(step["size"]) for step in steps)  # in the order tried
    if best >= FLEET_TARGET:
        verdict = f"met ({best} ≥ {FLEET_TARGET})"
    else:
        verdict = f"**missed** by {FLEET_TARGET - best} devices ({best} < {FLEET_TARGET})"
    fleet = row(
        "4",
        "fleet",
        f"largest N with p99 < {P99_LIMIT_S * 1000:.0f} ms and no errors",
        str(best) if best else "none",
        f"tried N = {tried}",
        "",
        errors(total_errors(steps)),
        f"{max(step['cpu'] for step in steps):.0%} (max)",
        f"N ≥ {FLEET_TARGET}",
        verdict,
    )
    peaks: dict[int, int] = {}
    for step in steps:
        for pid, kb in step["peak_rss_kb"].items():
            peaks[pid] = max(peaks.get(pid, 0), kb)
    memory = row(
        "5",
        "memory",
        "peak RSS per gunicorn worker during the fleet runs",
        " / ".join(f"{kb / 1024:.0f} MiB" for kb in peaks.values()),
        "",
        "",
        "",
        "",
        "none",
        "",
    )
    return [fleet, memory]


def table(results: dict) -> str:
    """The main table."""
    lines = [HEADER]
    lines += ingest_rows(results["ingest"])
    lines += realtime_rows(results["realtime"])
    lines += series_rows(results["series"])
    lines += fleet_rows(results["fleet"])
    return "\n".join(lines)


def ladder(steps: list[dict]) -> str:
    """Every fleet size tried, in detail."""
    lines = [
        "| N | requests | req/s | p50 | p99 | p99 " + " / ".join(KINDS) + " | errors "
        "| start lag p99 / max | load CPU | workers CPU | machine busy | peak RSS per worker "
        "| passed |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for step in steps:
        kinds = " / ".join(ms(step["kinds"][kind]["p99"]) for kind in KINDS)
        rss = " / ".join(f"{kb / 1024:.0f} MiB" for kb in step["peak_rss_kb"].values())
        lines.append(
            row(
                str(step["size"]),
                f"{step['count']:,}",
                f"{step['rate']:,.0f}",
                ms(step["p50"]),
                ms(step["p99"]),
                kinds,
                errors(step["errors"]),
                f"{ms(step['lag_p99'])} / {ms(step['lag_max'])}",
                f"{step['cpu']:.0%}",
                f"{step['server_cpu']:.0%}",
                f"{step['machine_busy']:.0%}",
                rss,
                "yes" if step["ok"] else "**no**",
            )
        )
    return "\n".join(lines)


def foreign_cpu(shares: dict[str, float]) -> str:
    """The CPU other processes took from the machine during each phase."""
    phases = ", ".join(f"{name} {share:.0%}" for name, share in shares.items() if name != "max")
    return (
        "CPU used by processes outside the bench, as a share of the whole machine: "
        f"{phases}; the busiest second {shares['max']:.0%}."
    )
