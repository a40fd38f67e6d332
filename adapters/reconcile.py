"""Reconciliation as a job of the running bot: daily while `serve` runs, and once from `engagebot reconcile`.

What is reconciled, and how, is :mod:`adapters.slack.reconcile`; this module builds its Reconciler from a Runtime.
"""

from __future__ import annotations

import logging
import sys
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TextIO

from adapters.slack.reconcile import Reconciler
from bot.config import Settings
from bot.errors import UsageError
from bot.scheduler import Clock, SystemClock
from bot.wording import plural

if TYPE_CHECKING:
    from adapters.runtime import Runtime

logger = logging.getLogger(__name__)

DAY = timedelta(days=1)


def reconciler_for(runtime: Runtime, **options: Any) -> Reconciler:
    """The Reconciler of a runtime's Slack adapter and store; ``options`` are Reconciler's (pause, clock, sleep)."""
    if runtime.slack is None:
        raise UsageError("Slack is not configured: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET")
    return Reconciler(
        runtime.slack.client, runtime.repo, runtime.capture, days=runtime.settings.reconcile_days, **options
    )


# -- in serve: at start, then daily --------------------------------------------------------------------------------


async def reconcile_loop(runtime: Runtime, clock: Clock | None = None, *, pause: float | None = None) -> None:
    """Reconcile at start and then once a day; a failure is logged (without payloads) and tried the next day."""
    clock = clock or SystemClock()
    reconciler = reconciler_for(runtime, pause=pause, clock=clock)
    while True:
        try:
            await reconciler.run()
        except Exception as err:  # reconciliation must never stop the server
            logger.error("reconcile failed error=%s", type(err).__name__)
        await clock.sleep(DAY.total_seconds())


# -- `engagebot reconcile` -----------------------------------------------------------------------------------------


class ProgressBar:
    """``reconcile [########------------]  4/10 posts`` on stderr, redrawn in place on a terminal."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = -1

    def __call__(self, done: int, total: int) -> None:
        if total == 0:
            self.stream.write("reconcile: no Slack posts in the period\n")
            self.stream.flush()
            return
        filled = self.width * done // total
        line = f"reconcile [{'#' * filled}{'-' * (self.width - filled)}] {done:>{len(str(total))}}/{total} posts"
        if self.tty:
            self.stream.write("\r" + line + ("\n" if done == total else ""))
        elif done == total or done == 0 or filled != self._last:
            self.stream.write(line + "\n")
        self._last = filled
        self.stream.flush()


async def reconcile_now(settings: Settings, days: int | None = None, *, stream: TextIO | None = None) -> int:
    """`engagebot reconcile [--days N]`: reconcile once, with a progress bar on stderr."""
    from adapters.runtime import Runtime

    if settings.slack is None:
        raise UsageError("Slack is not configured: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET")
    runtime = Runtime.build(settings, with_teams=False)
    out = stream or sys.stderr
    try:
        result = await reconciler_for(runtime).run(days, ProgressBar(out))
    finally:
        await runtime.aclose()
    out.write(
        f"reconciled {plural(result.posts, 'post')}: {plural(result.replies_added, 'reply')} added, "
        f"{result.replies_edited} edited, {result.replies_deleted} deleted; "
        f"{plural(result.reactions_added, 'reaction')} added, {result.reactions_removed} removed"
        + (f"; {plural(result.posts_failed, 'post')} failed (see the log)" if result.posts_failed else "")
        + "\n"
    )
    return 0
