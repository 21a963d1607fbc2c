"""The file `import` reads: a path or standard input, gunzipped when it is gzip, and how
much of it has been read (for the progress bar)."""

import contextlib
import gzip
import io
import os
import stat
import sys
from collections.abc import Callable, Generator, Iterator
from typing import Any

from .formats import read_samples

GZIP_MAGIC = b"\x1f\x8b"


class _Counted(io.RawIOBase):
    """A raw file that counts the bytes read from it."""

    def __init__(self, raw):
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self.raw.readinto(buffer) or 0
        self.count += n
        return n


@contextlib.contextmanager
def open_samples(
    path: str,
) -> Iterator[tuple[Generator[tuple[int, Any], None, None], Callable[[], int], int | None]]:
    """(line number, sample) pairs of the file at `path` ('-': standard input), a function
    giving the bytes read so far, and the file's size (None for a pipe)."""
    if path == "-":
        raw, closing = sys.stdin.buffer, contextlib.nullcontext()
    else:
        raw = closing = open(path, "rb", buffering=0)  # noqa: SIM115
    with closing:
        size = _size(raw)
        counted = _Counted(raw)
        stream: Any = io.BufferedReader(counted, 1 << 20)
        if stream.peek(2)[:2] == GZIP_MAGIC:
            stream = gzip.GzipFile(fileobj=stream)
        samples = read_samples(stream)
        try:
            yield samples, lambda: counted.count, size
        finally:
            # An import stopped early leaves the reader suspended: finish it while the
            # file is still open, not whenever the garbage collector gets to it.
            samples.close()


def _size(source) -> int | None:
    """The size of a regular file; None for a pipe or a terminal."""
    try:
        info = os.fstat(source.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None
