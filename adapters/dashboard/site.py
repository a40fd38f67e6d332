"""The dashboard as one object: its settings, its own database connection, its worker thread and the sign-in.

The dashboard reads through a connection of its own, in one worker thread: building a page (a report's worth of
queries and text analysis) never runs on the event loop that acknowledges Slack and Teams events, never sees another
request's uncommitted writes, and one page is built at a time. Its page cache is keyed by SQLite's ``data_version``,
which moves whenever another connection commits (a capture, a new sign-in link), so a page is never stale.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import ParamSpec, TypeVar

from bot.config import Settings
from bot.dashboard.signin import SignIn
from bot.dashboard.views import DashboardSource, Views
from bot.timeutil import utc_now

P = ParamSpec("P")
T = TypeVar("T")


class Dashboard:
    def __init__(
        self,
        settings: Settings,
        store: DashboardSource,
        themes: Sequence[str],
        *,
        close_store: Callable[[], None] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.public_url = settings.public_url
        self.signin = SignIn(store, settings.is_admin, settings.public_url, clock)
        self.views = Views(store, settings, tuple(themes), clock)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dashboard")
        self._close_store = close_store

    def set_clock(self, clock: Callable[[], datetime]) -> None:
        """For tests: the time sign-in and the default period are judged by."""
        self.signin.clock = clock
        self.views.clock = clock

    async def run(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``work`` in the dashboard's thread, on its connection."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(work, *args, **kwargs))

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        if self._close_store is not None:
            self._close_store()
