"""Waiting for what a test can observe, never for a length of time: ``eventually`` polls a condition until it holds.

Its limit is only a safety net for a test that would otherwise hang; it is generous, so that a slow shared machine
never makes a test fail, and a test never relies on anything having happened by a given time.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
import threading
import time
from collections.abc import Awaitable, Callable

LIMIT = 30.0  # seconds: a safety net, not a measure


async def eventually(condition: Callable[[], bool | Awaitable[bool]], limit: float = LIMIT) -> None:
    """Return once ``condition()`` (plain or awaitable) is true; fail the test if it is still false after ``limit``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        held = condition()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return
        assert loop.time() < deadline, "timed out waiting for a condition"
        await asyncio.sleep(0.02)


def wait_until(condition: Callable[[], bool], limit: float = LIMIT) -> None:
    """``eventually`` for a test without an event loop (threads)."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for a condition"
        time.sleep(0.001)


def running_in(thread: threading.Thread, function: str) -> bool:
    """Whether ``thread`` is inside a call of ``function`` (by name) at any depth, e.g. waiting there for a lock."""
    frame = sys._current_frames().get(thread.ident) if thread.ident is not None else None
    while frame is not None:
        if frame.f_code.co_name == function:
            return True
        frame = frame.f_back
    return False
