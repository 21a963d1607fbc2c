"""How long a request body may take to arrive, how many slow ones a worker waits for at
once, and what an early answer does to the rest of a body: so that bodies trickling in,
over a slow link or on purpose, can never hold a gunicorn worker's threads for long.

gunicorn reads a body in the thread that serves the request, from a blocking socket, one
`recv` after another until the size asked for has come: a timeout per `recv` does not
bound the whole. Here one thread per process keeps the deadlines of the bodies being read
and, when one passes, shuts the read side of that connection: the read in progress ends
at once, as if the client had hung up, and the view answers.
"""

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time

from flask import Flask, Response, current_app, request

from ..config import Settings

EXTENSION = "sungrow.body_readers"
# Set in the WSGI environ once a body has been read to its end.
BODY_READ = "sungrow.body_read"
# A body not read whole after this long is slow: it needs one of the worker's slow-body
# slots to go on. A body sent right after its headers has normally come by then (the
# first 14 kB of a connection leave in one flight, whatever the link), and one that has
# not finds a slot free unless slow bodies crowd the worker. Under a flood of bodies that
# never come, a thread without a slot is free again after this long: with all 64 of a
# trickle in one worker of 8 threads, another request waited 1.3 s at most.
GRACE_S = 0.1


def stop_reading(environ: dict) -> None:
    """Shut the read side of the request's connection (gunicorn's socket); no-op elsewhere.

    Reading then ends at once: gunicorn does not wait for the rest of the body, and closes
    the connection after the answer, which is still sent whole.
    """
    sock = environ.get("gunicorn.socket")
    if sock is None or environ.get("SERVER_PROTOCOL", "").startswith("HTTP/2"):
        return  # no socket of its own: an HTTP/2 stream shares it with others
    # The plain socket's shutdown, also for a TLS socket, whose own would drop its TLS
    # state before the answer is written. OSError: the client has closed it already.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RD)


class BodyReaders:
    """The bodies one worker process waits for: each for at most `timeout_s` seconds, and
    at most `slots` of them at once once they are slow (see GRACE_S)."""

    def __init__(self, timeout_s: float, slots: int):
        self.timeout_s = timeout_s
        self.slots = slots
        self.free = threading.BoundedSemaphore(slots)

    def deadline(self, environ: dict) -> "Deadline":
        """The deadline of one body, as a context around its reading."""
        return Deadline(self, environ)


class Deadline:
    """When the body of one request must have come, and whether it was cut short: `expired`
    (too slow: 408) or `refused` (slow, and no slot free: 503)."""

    def __init__(self, readers: BodyReaders, environ: dict):
        self.start = time.monotonic()
        self.at = self.start + readers.timeout_s
        self.expired = self.refused = False
        self.done = self.slotted = False
        self._readers = readers
        self._environ = environ

    def passed(self) -> bool:
        """Whether the deadline has passed (also checked between reads: without gunicorn's
        socket, as in tests, nothing interrupts a read)."""
        return self.expired or time.monotonic() >= self.at

    def __enter__(self) -> "Deadline":
        if "gunicorn.socket" in self._environ:
            _watchdog.watch(self, min(self.start + GRACE_S, self.at))
        return self

    def __exit__(self, *exc) -> None:
        _watchdog.forget(self)

    def check(self, now: float) -> float | None:
        """The watchdog's turn, under its lock: the next time to look, or None when done."""
        if now >= self.at:
            self.expired = True
        elif not self.slotted and not self._readers.free.acquire(blocking=False):
            self.refused = True
        else:
            self.slotted = True
            return self.at
        stop_reading(self._environ)
        return None

    def finish(self) -> None:
        """The body has come (or the request ended), under the watchdog's lock."""
        self.done = True
        if self.slotted:
            self.slotted = False
            self._readers.free.release()


class Watchdog:
    """One daemon thread per process that looks at each body being read when it turns slow
    and when its deadline passes.

    Finished reads are dropped from the front of the heap as they finish, so the heap
    holds about the reads in progress, and the thread sleeps while every body comes in
    time: it wakes only when the earliest look is due.
    """

    def __init__(self):
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._wake_at: float | None = None
        self._thread: threading.Thread | None = None

    def watch(self, deadline: Deadline, at: float) -> None:
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="body-deadlines", daemon=True
                )
                self._thread.start()
            heapq.heappush(self._heap, (at, next(self._order), deadline))
            if self._wake_at is None or at < self._wake_at:
                self._cond.notify()

    def forget(self, deadline: Deadline) -> None:
        with self._cond:
            deadline.finish()
            self._drop_done()

    def _drop_done(self) -> None:
        while self._heap and self._heap[0][2].done:
            heapq.heappop(self._heap)

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    deadline = heapq.heappop(self._heap)[2]
                    if not deadline.done:
                        again = deadline.check(now)
                        if again is not None:
                            heapq.heappush(self._heap, (again, next(self._order), deadline))
                    self._drop_done()
                self._wake_at = self._heap[0][0] if self._heap else None
                self._cond.wait(None if self._wake_at is None else self._wake_at - now)

    def reset(self) -> None:
        """Forget everything: in a forked child, which has none of its parent's threads."""
        self.__init__()


_watchdog = Watchdog()
os.register_at_fork(after_in_child=_watchdog.reset)


def close_unread_body(response: Response) -> Response:
    """`after_request`: an error answered before the body was read to its end (a 401, a 413
    by its Content-Length, a 408) stops reading it.

    gunicorn would otherwise read and discard the rest before serving the connection again
    (for up to 5 s of a thread), and then, closing it, wait for the client once more (for
    up to 2 s of the worker's main loop): a client that trickles forever could stall the
    worker. Successful answers keep the connection.
    """
    environ = request.environ
    if response.status_code >= 400 and not environ.get(BODY_READ) and _has_body(environ):
        stop_reading(environ)
    return response


def _has_body(environ: dict) -> bool:
    length = environ.get("CONTENT_LENGTH", "")
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    return length not in ("", "0") or chunked


def init_app(app: Flask, settings: Settings, threads: int) -> None:
    """Body readers for a worker of `threads` threads (half of them, at least one, for slow
    bodies), and no reading of the bodies that error answers leave unread."""
    slots = max(1, threads // 2)
    app.extensions[EXTENSION] = BodyReaders(settings.body_read_timeout_s, slots)
    app.after_request(close_unread_body)


def get_body_readers(app: Flask | None = None) -> BodyReaders:
    """The body readers of `app` (default: the current app)."""
    return (app or current_app).extensions[EXTENSION]
