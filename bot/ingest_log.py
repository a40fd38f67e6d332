"""The log of captured events: a line per event at DEBUG, and at INFO one line a minute per platform with the count of
each outcome, so a busy server does not format and write a line per event while operators still see every event
counted.

The INFO line (``slack events seconds=60 stored=120 duplicate=2 ignored=31 opted_out=0 before_opt_in=0``) covers the
minute that began with the first event counted after the previous line; nothing is logged while no event arrives,
and :meth:`IngestLog.flush` writes what is counted at once (when the server stops). Refusals (401, 400, 503) are
not counted here: each keeps its own line at INFO or above. No line holds message text.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from typing import Any

__all__ = ["INTERVAL_SECONDS", "OUTCOMES", "IngestLog"]

INTERVAL_SECONDS = 60.0
OUTCOMES = ("stored", "duplicate", "ignored", "opted_out", "before_opt_in")  # bot.capture.Outcome, in this order


class IngestLog:
    """Per-event DEBUG lines and the per-minute INFO count of one platform's captured events."""

    def __init__(self, logger: logging.Logger, platform: str, *, interval: float = INTERVAL_SECONDS) -> None:
        self.logger = logger
        self.platform = platform
        self.interval = interval
        self._counts: Counter[str] = Counter()
        self._since = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def event(self, outcome: str, message: str, *args: Any) -> None:
        """Count ``outcome``; ``message % args`` is the event's DEBUG line (formatted only when DEBUG is on)."""
        self.logger.debug(message, *args)
        if not self._counts:
            self._since = time.monotonic()
            try:
                self._timer = asyncio.get_running_loop().call_later(self.interval, self.flush)
            except RuntimeError:  # no event loop (a synchronous caller): the next flush() writes it
                self._timer = None
        self._counts[outcome] += 1

    def flush(self) -> None:
        """Write the INFO line of what was counted since the last one (nothing when nothing was)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._counts:
            return
        counts, self._counts = self._counts, Counter()
        seconds = round(time.monotonic() - self._since)
        known = " ".join(f"{outcome}={counts.pop(outcome, 0)}" for outcome in OUTCOMES)
        other = "".join(f" {outcome}={count}" for outcome, count in sorted(counts.items()))
        self.logger.info("%s events seconds=%d %s%s", self.platform, seconds, known, other)
