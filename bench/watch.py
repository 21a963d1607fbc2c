"""CPU used by processes outside the bench, so that a busy shared machine shows in the results."""

import contextlib
import os
import statistics
import threading
import time
from pathlib import Path

import psycopg


def process_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, utime + stime in clock ticks) of every process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            table[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    return table


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def descendants(table: dict[int, tuple[int, int]], roots: set[int]) -> set[int]:
    """The roots and every process below them."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, todo = set(), [pid for pid in roots if pid in table]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo += children.get(pid, [])
    return found


class CpuWatch(threading.Thread):
    """Samples once a second the share of the machine's CPU used outside the bench's processes.

    The bench's processes are this one and everything it started, plus the PostgreSQL
    cluster it started (the postmaster is not our child once pg_ctl has detached it).
    """

    def __init__(self, interval: float = 1.0):
        super().__init__(name="cpu-watch", daemon=True)
        self.interval = interval
        self.roots = {os.getpid()}
        self.phase = "before the bench"
        self.shares: dict[str, list[float]] = {}
        self._done = threading.Event()

    def run(self) -> None:
        table, machine = process_table(), machine_ticks()
        while not self._done.wait(self.interval):
            new_table, new_machine = process_table(), machine_ticks()
            ours = sum(
                new_table[pid][1] - table.get(pid, (0, 0))[1]
                for pid in descendants(new_table, self.roots)
            )
            total = new_machine[1] - machine[1]
            if total > 0:
                foreign = max(0, new_machine[0] - machine[0] - ours) / total
                self.shares.setdefault(self.phase, []).append(foreign)
            table, machine = new_table, new_machine

    def stop(self) -> dict[str, float]:
        """Stop sampling; the mean share per phase, and the largest second as `max`."""
        self._done.set()
        self.join()
        summary = {phase: statistics.mean(values) for phase, values in self.shares.items()}
        summary["max"] = max((max(v) for v in self.shares.values()), default=0.0)
        return summary


def dirty_mib() -> float:
    """Page cache waiting to be written back, from /proc/meminfo, in MiB."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("Dirty:"):
            return int(line.split()[1]) / 1024
    return 0.0


def settle(database_url: str, limit_mib: float = 32, timeout_s: float = 60) -> float:
    """Let the previous workload's writes reach the disk before the next one starts.

    A workload that wrote a lot leaves PostgreSQL's checkpoint and the kernel's writeback
    to the next one: the kernel then stalls every writer, down to gunicorn's access log,
    and the next workload is billed for the previous one. Returns the seconds waited.
    """
    started = time.monotonic()
    # A given database's user may not be allowed to checkpoint; the wait still holds.
    with (
        psycopg.connect(database_url, autocommit=True) as conn,
        contextlib.suppress(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute("CHECKPOINT")
    os.sync()
    while dirty_mib() > limit_mib and time.monotonic() - started < timeout_s:
        time.sleep(0.2)
    return time.monotonic() - started
