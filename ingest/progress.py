"""Progress of an ingest on stderr: one live line on a terminal, a periodic log line elsewhere.

On a terminal, tqdm draws one line with the file count, rate, ETA and the
counts per outcome. When stderr is a file or a pipe (CI logs, `2> log`), a
redrawn line would fill the log with carriage returns, so a plain log line is
written every `interval` seconds instead. `Progress(enabled=False)` does nothing.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from types import TracebackType
from typing import TextIO

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

log = logging.getLogger(__name__)

DEFAULT_LOG_INTERVAL = 10.0


class Progress:
    """Counts processed files against a known total and shows how far the run is."""

    def __init__(
        self,
        total: int,
        enabled: bool = True,
        stream: TextIO | None = None,
        interval: float = DEFAULT_LOG_INTERVAL,
        initial: int = 0,
    ) -> None:
        """`initial` counts files done before the start, such as reused ones; they are left out of the rate."""
        self.total = total
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.initial = initial
        self.done = initial
        self.started = time.monotonic()
        self.last_logged = self.started
        self.bar: tqdm | None = None
        self._redirect: AbstractContextManager[object] = nullcontext()

        if enabled and _is_terminal(self.stream):
            self.bar = tqdm(
                total=total, initial=initial, unit="file", desc="ingest", file=self.stream, dynamic_ncols=True
            )
            # Log records are written above the bar instead of through it.
            self._redirect = logging_redirect_tqdm()

    def __enter__(self) -> Progress:
        self._redirect.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
        self._redirect.__exit__(kind, error, traceback)

    def update(self, files: int, outcome_counts: Mapping[str, int]) -> None:
        """Record `files` more processed files; `outcome_counts` are the run's totals so far."""
        self.done += files
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.set_postfix(outcome_counts, refresh=False)
            self.bar.update(files)
            return

        now = time.monotonic()
        if now - self.last_logged >= self.interval:
            self.last_logged = now
            log.info("%s", self.status_line(outcome_counts, now))

    def status_line(self, outcome_counts: Mapping[str, int], now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        elapsed = max(now - self.started, 1e-9)
        rate = (self.done - self.initial) / elapsed
        share = self.done / self.total if self.total else 1.0
        remaining = (self.total - self.done) / rate if rate > 0 else float("inf")
        counts = ", ".join(f"{outcome} {count:,}" for outcome, count in outcome_counts.items())
        return (
            f"ingest: {self.done:,}/{self.total:,} files ({share:.0%}), {rate:,.1f} files/s, "
            f"ETA {_format_seconds(remaining)}; {counts}"
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _format_seconds(seconds: float) -> str:
    if seconds == float("inf"):
        return "unknown"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
