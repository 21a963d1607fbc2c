"""A lean HTTP/1.1 client on asyncio streams: keep-alive, Content-Length bodies, timings."""

import asyncio
import json
import math
import resource
import time
from collections import Counter
from datetime import datetime, timedelta

from bench.write_path import make_samples

TIMEOUT_S = 30.0


def samples_at(start: datetime, count: int, step_s: float = 1.0) -> list[dict]:
    """The deterministic sample values of bench/write_path.py, `step_s` apart from `start` on."""
    step = timedelta(seconds=step_s)
    return [{**sample, "ts": start + i * step} for i, sample in enumerate(make_samples(count))]


def request(method: str, path: str, token: str, body: bytes = b"") -> bytes:
    """The bytes of one request, ready to send."""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def ingest_request(token: str, device_id: str, samples: list[dict]) -> bytes:
    """POST /v1/ingest of one device's samples, whose `ts` is a datetime."""
    items = [{"device_id": device_id, **s, "ts": s["ts"].isoformat()} for s in samples]
    body = json.dumps({"samples": items})
    return request("POST", "/v1/ingest", token, body.encode())


class Connection:
    """One keep-alive connection to 127.0.0.1:port, reopened when the server closed it."""

    def __init__(self, port: int):
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        self.close()
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def send(self, data: bytes) -> tuple[int, bytes]:
        """Send one request and read its answer: (status, body)."""
        reused = self.writer is not None and not self.reader.at_eof()
        if not reused:
            await self._connect()
        try:
            return await self._exchange(data)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            # A kept-alive connection the server closed just as we sent: any HTTP client
            # retries that once on a new connection (ingest is idempotent).
            if not reused or getattr(exc, "partial", b""):
                raise
            await self._connect()
            return await self._exchange(data)

    async def _exchange(self, data: bytes) -> tuple[int, bytes]:
        self.writer.write(data)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        start = lower.index(b"content-length:") + 15
        length = int(lower[start : lower.index(b"\r\n", start)])
        body = await self.reader.readexactly(length)
        if b"connection: close" in lower:
            self.close()
        return status, body

    def close(self) -> None:
        """Close the socket, if open."""
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Timings:
    """Latencies of successful requests, and what went wrong with the others."""

    def __init__(self):
        self.latencies: list[float] = []
        self.failed: list[float] = []  # how long the failed requests took
        self.errors: Counter[str] = Counter()

    async def timed(self, conn: Connection, data: bytes, expect=None) -> bytes | None:
        """Send a request; record its latency if it answered 200 (and `expect(body)` holds)."""
        started = time.perf_counter()
        try:
            status, body = await asyncio.wait_for(conn.send(data), TIMEOUT_S)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            status, body, error = None, b"", type(exc).__name__
        except TimeoutError:
            status, body, error = None, b"", "timeout"
        else:
            error = None
            if status != 200:
                error = f"HTTP {status}"
            elif expect is not None and not expect(body):
                error = "unexpected answer"
        elapsed = time.perf_counter() - started
        if error is None:
            self.latencies.append(elapsed)
            return body
        if status is None:
            conn.close()
        self.errors[error] += 1
        self.failed.append(elapsed)
        return None

    def merge(self, other: "Timings") -> None:
        """Add another recorder's results to this one."""
        self.latencies += other.latencies
        self.failed += other.failed
        self.errors.update(other.errors)

    def summary(self) -> dict:
        """Count, p50 and p99 in seconds, and the errors: picklable."""
        return {
            "count": len(self.latencies),
            "p50": percentile(self.latencies, 50),
            "p99": percentile(self.latencies, 99),
            "errors": dict(self.errors),
            "failed_after": percentile(self.failed, 50),
        }


def total_errors(results: list[dict]) -> dict[str, int]:
    """The errors of several summaries added up by kind."""
    total: Counter[str] = Counter()
    for result in results:
        total.update(result["errors"])
    return dict(total)


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


class CpuClock:
    """The wall time of a stretch of code and the CPU this process used in it."""

    def __enter__(self) -> "CpuClock":
        self._cpu = self._used()
        self._wall = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = self._used() - self._cpu

    @staticmethod
    def _used() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    @property
    def share(self) -> float:
        """CPU seconds per wall second (1.0 = one core busy)."""
        return self.cpu / self.wall
