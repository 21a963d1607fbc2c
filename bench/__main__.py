"""`python -m bench`: measure the server as deployed and write docs/BENCHMARKS.md."""

import argparse
import multiprocessing
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench import document, fleet, ingest, realtime, series, stack
from bench.plan import Context, Plan, all_tokens, fleet_devices, realtime_devices
from bench.watch import CpuWatch, settle

OUTPUT = stack.REPO / "docs" / "BENCHMARKS.md"
WORKLOADS = ("ingest", "realtime", "series", "fleet")


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a ~2 minute version")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median; default 3)")
    parser.add_argument(
        "--years",
        help="comma-separated years of 5 s samples, one series data set each (default 1,5)",
    )
    parser.add_argument(
        "--fleet-sizes",
        default="500,1000,2000,4000",
        help="fleet sizes to try in order, stopping at the first failure",
    )
    parser.add_argument(
        "--only",
        default=",".join(WORKLOADS),
        help="comma-separated workloads to run (default: all of " + ",".join(WORKLOADS) + ")",
    )
    parser.add_argument("--database-url", help="use this database (default: a throwaway cluster)")
    parser.add_argument("--redis-url", help="use this Redis (default: a throwaway server)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="the markdown file to write")
    parser.add_argument("--no-write", action="store_true", help="only print the results")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    try:
        args.years = [float(y) for y in args.years.split(",")] if args.years else None
    except ValueError:
        parser.error("--years takes numbers separated by commas, such as 1,5")
    args.only = set(args.only.split(","))
    if not args.only or not args.only <= set(WORKLOADS):
        parser.error(f"--only takes workloads among {', '.join(WORKLOADS)}")
    return args


def run_workloads(ctx: Context, env: dict[str, str], watch: CpuWatch, only: set[str]) -> dict:
    """The chosen workloads in order; the views are dropped last for the fallback."""
    url = ctx.backends.database_url

    def phase(name: str) -> None:
        waited = settle(url)
        watch.phase = name
        print(f"{name} (after {waited:.1f} s for the disk to settle)", flush=True)

    results = {"series": {}}
    if "series" in only:
        phase("series data")
        data = series.load(ctx, env)
        for item in data["sets"]:
            print(f"  {item['device']}: {item['rows']:,} rows", flush=True)
        print(f"  seconds: {data['seconds']}", flush=True)
        results["series_data"] = data
    if "ingest" in only:
        phase("ingest")
        results["ingest"] = ingest.measure(ctx)
    if "realtime" in only:
        phase("realtime")
        results["realtime"] = realtime.measure(ctx)
    aggregates = "series" in only and results["series_data"]["aggregates"]
    if aggregates:
        phase("series (aggregates)")
        results["series"]["aggregates"] = series.measure(ctx, "aggregates")
    if "fleet" in only:
        phase("fleet")
        results["fleet"] = fleet.measure(ctx)
    if "series" in only:
        if aggregates:
            series.drop_views(url)
        phase("series (fallback)")
        results["series"]["fallback"] = series.measure(ctx, "fallback")
        if aggregates and not ctx.backends.owned:
            stack.flask_command(env, "init-db")  # the given database gets its views back
    return results


def measure(plan: Plan, args: argparse.Namespace, logdir: Path) -> tuple[dict, list]:
    """Start everything, run the workloads; the results and the machine description."""
    largest = max(plan.fleet_sizes)
    watch = CpuWatch()
    watch.start()
    time.sleep(3)  # what the machine does before the bench starts anything
    watch.phase = "setup"
    with stack.backends(args.database_url, args.redis_url) as backends:
        if backends.postmaster:
            watch.roots.add(backends.postmaster)
        tokens = all_tokens(largest, plan.series_days)
        env = stack.server_env(backends.database_url, backends.redis_url, tokens)
        print(stack.flask_command(env, "init-db").strip(), flush=True)
        live = realtime_devices() + fleet_devices(largest)
        realtime.seed(backends.database_url, live)
        realtime.seed(backends.database_url, realtime_devices(silent=True), realtime.SILENCE)
        with stack.serve("wsgi:app", env, logdir) as server:
            bare_env = {**env, "BENCH_BARE_BODY": realtime.bare_body(server)}
            spawn = multiprocessing.get_context("spawn")
            with (
                stack.serve("bench.bare_app:app", bare_env, logdir) as bare,
                ProcessPoolExecutor(1, mp_context=spawn) as load,
            ):
                ctx = Context(plan, backends, server, bare, load)
                results = run_workloads(ctx, env, watch, args.only)
        results["foreign_cpu"] = watch.stop()
        return results, document.machine(backends)


def main() -> None:
    """Parse the arguments, measure, print the tables and write the document."""
    args = parse_args()
    sizes = tuple(int(size) for size in args.fleet_sizes.split(","))
    plan = Plan.build(args.runs, args.quick, args.years, sizes)
    started = time.monotonic()
    logdir = Path(tempfile.mkdtemp(prefix="sungrow-bench-"))
    try:
        results, machine = measure(plan, args, logdir)
    except BaseException:
        print(f"gunicorn logs kept in {logdir}")
        raise
    shutil.rmtree(logdir)
    minutes = (time.monotonic() - started) / 60
    if args.only != set(WORKLOADS):
        # The table needs every workload: a partial run shows only its progress lines.
        print(f"\n--only {','.join(sorted(args.only))}: {minutes:.1f} minutes, nothing written")
        return
    fields = document.fields(plan, results, machine, minutes)
    print(f"\n{fields['table']}\n\n{fields['ladder']}\n\n{fields['machine']}")
    print(fields["foreign_cpu"])
    print(f"\n{fields['command']}: {fields['runs']} runs, {fields['minutes']} minutes")
    if not args.no_write:
        args.output.write_text(document.render(fields))
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
