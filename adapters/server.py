"""`engagebot serve`: the aiohttp server, the scheduler, and a clean stop on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web

from adapters.maintenance import maintenance_loop
from adapters.reconcile import reconcile_loop
from adapters.runtime import Runtime
from bot.config import Settings
from bot.scheduler import Scheduler

logger = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 10.0


def attach_background(app: web.Application, name: str, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``work`` alongside the server for as long as the application runs."""
    key = web.AppKey(name, asyncio.Task)

    async def start(app: web.Application) -> None:
        app[key] = asyncio.create_task(work(), name=name)

    async def stop(app: web.Application) -> None:
        task = app[key]
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.on_startup.append(start)
    app.on_shutdown.append(stop)


async def serve(settings: Settings, *, stop: asyncio.Event | None = None) -> int:
    runtime = Runtime.build(settings)
    app = runtime.web_app()
    attach_background(app, "scheduler", Scheduler(runtime.engagement, runtime.posters, runtime.repo).run_forever)
    attach_background(app, "maintenance", lambda: maintenance_loop(runtime))
    if runtime.slack is not None:
        attach_background(app, "reconcile", lambda: reconcile_loop(runtime))  # at start, then daily
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(app, shutdown_timeout=SHUTDOWN_GRACE_SECONDS, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        try:
            await site.start()
        except OSError as err:
            logger.error("cannot listen on %s:%s: %s", settings.host, settings.port, err.strerror)
            return 2
        logger.info(
            "listening host=%s port=%s slack=%s teams=%s",
            settings.host,
            settings.port,
            runtime.slack is not None,
            runtime.teams is not None,
        )
        await stop.wait()
        logger.info("stopping: finishing in-flight requests")
    finally:
        await runner.cleanup()  # stops accepting, waits for in-flight requests, runs cleanup hooks
        runtime.close()
        logger.info("stopped; database closed")
    return 0
