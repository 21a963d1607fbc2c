"""Progress of the long commands: a bar with rate and ETA on a terminal, nothing elsewhere
(a cron job, a pipe, a log file)."""

import os
import sys
from typing import TextIO

from tqdm import tqdm


def on_terminal(stream: TextIO) -> bool:
    """Whether `stream` is a terminal someone watches."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no such method, or already closed
        return False


def progress_bar(total: float | None, unit: str, stream: TextIO | None = None) -> tqdm:
    """A bar on `stream` (default standard error), shown only on a terminal. `unit` "B"
    counts bytes (KiB, MiB...); any other unit is counted with k and M."""
    stream = stream or sys.stderr
    is_bytes = unit == "B"
    shown = on_terminal(stream)
    return tqdm(
        total=total,
        unit=unit if is_bytes else f" {unit}",
        unit_scale=True,
        unit_divisor=1024 if is_bytes else 1000,
        file=stream,
        disable=not shown,
        # follow the window's width, where the terminal tells it (a serial console or a
        # bare pseudo-terminal says 0 columns: 80 then)
        dynamic_ncols=shown and _columns(stream) > 0,
        ncols=None if shown and _columns(stream) > 0 else 80,
        mininterval=0.5,
        smoothing=0.1,
    )


def _columns(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return 0
