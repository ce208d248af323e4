"""Progress of a long job (a run, a sweep, a timing pass) on standard error.

On a terminal it is a tqdm bar. Anywhere else (a log file, a pipe, CI) tqdm would stay silent,
so it is a plain line every ``every_s`` seconds and one at the end, e.g.::

    CartPole-v1 acktr seed 0: 35,000/100,000 steps (35%), 1,234 steps/s, 0:28 elapsed, ETA 0:53; return 143.8

Every line is flushed as it is written.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from typing import TextIO

from tqdm import tqdm

PROGRESS_EVERY_S = 30.0
"""Default seconds between two plain progress lines."""


def add_progress_option(parser: argparse.ArgumentParser) -> None:
    """``--progress-every SECONDS``, the same for every command that shows progress."""
    parser.add_argument(
        "--progress-every",
        type=_seconds,
        default=PROGRESS_EVERY_S,
        metavar="SECONDS",
        help="where output is not a terminal, a progress line this often (0: none; default: %(default)g)",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value >= 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"bad value {text!r}; accepted: seconds ≥ 0")
    return value


def _clock(seconds: float) -> str:
    """``H:MM:SS`` (``M:SS`` under an hour)."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Counts ``done`` of ``total`` units (env steps, benchmarks) and shows it as the module doc says.

    ``label`` starts every plain line; ``update`` takes the absolute count and a short status
    (latest return, runs done) shown after it; ``write`` prints a line at once (a run's end);
    ``enabled=False`` shows nothing but what ``write`` prints. Lines go to ``stream`` (standard
    error by default), or to ``emit`` where it is given (a line without its newline).
    """

    def __init__(
        self,
        total: int,
        *,
        unit: str = "step",
        label: str = "",
        every_s: float = PROGRESS_EVERY_S,
        enabled: bool = True,
        stream: TextIO | None = None,
        emit: Callable[[str], None] | None = None,
    ) -> None:
        self.stream = stream or sys.stderr
        self.emit = emit or self._print
        self.total, self.unit, self.label, self.every_s = total, unit, label, every_s
        terminal = self.stream.isatty()
        self.bar = tqdm(
            total=total, unit=unit, unit_scale=True, file=self.stream, disable=not (enabled and terminal)
        )
        self.plain = enabled and not terminal and every_s > 0
        self.done, self.status = 0, ""
        self.started = self._shown_at = time.monotonic()
        self._shown_done = 0
        self._first: tuple[float, int] | None = None
        """(time, done) of the first update: rates leave out the start-up before it."""

    def update(self, done: int, status: str = "") -> None:
        """``done`` units so far (absolute), with ``status`` after the counts."""
        if self._first is None:
            self._first = (time.monotonic(), done)
        self.bar.update(max(0, done - self.bar.n))
        if status:
            self.bar.set_postfix_str(status, refresh=False)
        self.done, self.status = done, status
        if self.plain and time.monotonic() - self._shown_at >= self.every_s:
            self._show()

    def write(self, line: str) -> None:
        """``line`` now, above the bar on a terminal."""
        if self.bar.disable:
            self.emit(line)
        else:
            self.bar.write(line, file=self.stream)

    def close(self) -> None:
        """The bar's last state, or a last plain line when there was progress since the previous one."""
        self.bar.close()
        if self.plain and self.done != self._shown_done:
            self._show()

    def line(self) -> str:
        """The plain progress line of the current state."""
        now = time.monotonic()
        first_at, first_done = self._first or (now, self.done)
        rate = (self.done - first_done) / (now - first_at) if now > first_at else 0.0
        text = f"{self.done:,}/{self.total:,} {self.unit}s"
        text += f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        text += f", {rate:,.{0 if rate >= 10 else 2}f} {self.unit}s/s" if rate > 0 else ""
        text += f", {_clock(now - self.started)} elapsed"
        text += (
            f", ETA {_clock((self.total - self.done) / rate)}" if rate > 0 and self.done < self.total else ""
        )
        text += f"; {self.status}" if self.status else ""
        return f"{self.label}: {text}" if self.label else text

    def _show(self) -> None:
        self.emit(self.line())
        self._shown_at, self._shown_done = time.monotonic(), self.done

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)
