"""`engagebot serve`: the port first, then the aiohttp server, the scheduler and the daily jobs; a clean stop on
SIGTERM/SIGINT.

Nothing runs before the port is ours: a port in use (or a host that cannot be bound) is one error line and exit
code 2, with no slot claimed and nothing posted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web

from adapters.maintenance import maintenance_loop, scrub_loop
from adapters.reconcile import reconcile_loop
from adapters.runtime import Runtime
from bot.config import Settings
from bot.errors import ConfigError

logger = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 10.0
BACKLOG = 128

Job = Callable[[], Coroutine[Any, Any, None]]


def bind(host: str, port: int) -> list[socket.socket]:
    """Listening sockets on every address of ``host``, as asyncio would bind them; ConfigError when it cannot."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as err:
        raise ConfigError(f"cannot listen on {host}:{port}: {err.strerror}", key="HOST") from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(BACKLOG)
    except OSError as err:
        for sock in sockets:
            sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {err.strerror} (is engagebot already running? or choose a free PORT)",
            key="PORT",
        ) from None
    return sockets


def background_jobs(runtime: Runtime) -> dict[str, Job]:
    """What runs alongside the server once it listens: the schedule, the upkeep, Slack reconciliation."""
    jobs: dict[str, Job] = {
        "maintenance": lambda: maintenance_loop(runtime),
        "scrub": lambda: scrub_loop(runtime),  # every minute: erasures that a reader of the database held up
    }
    if runtime.scheduler is not None:
        jobs["scheduler"] = runtime.scheduler.run_forever
    if runtime.slack is not None:
        jobs["reconcile"] = lambda: reconcile_loop(runtime)  # at start, then daily
    return jobs


async def serve(settings: Settings, *, stop: asyncio.Event | None = None) -> int:
    sockets = bind(settings.host, settings.port)  # before anything else: a port in use changes nothing
    try:
        runtime = Runtime.build(settings)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    stop = stop or asyncio.Event()
    if runtime.slack is not None:
        runtime.slack.on_fatal(stop.set)  # Slack refusing a token later stops the server too (raised below)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(runtime.web_app(), shutdown_timeout=SHUTDOWN_GRACE_SECONDS, access_log=None)
    tasks: list[asyncio.Task[None]] = []
    try:
        await runner.setup()  # raises ConfigError when Slack refuses a token (Socket Mode)
        for sock in sockets:
            await web.SockSite(runner, sock).start()
        logger.info(
            "listening host=%s port=%s slack=%s teams=%s",
            settings.host,
            settings.port,
            runtime.slack is not None,
            runtime.teams is not None,
        )
        tasks = [asyncio.create_task(job(), name=name) for name, job in background_jobs(runtime).items()]
        await stop.wait()
        logger.info("stopping: finishing in-flight requests")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await runner.cleanup()  # stops accepting, waits for in-flight requests, runs cleanup hooks
        for sock in sockets:
            sock.close()
        runtime.close()
        logger.info("stopped; database closed")
    if runtime.slack is not None and runtime.slack.fatal is not None:
        raise runtime.slack.fatal  # one line on stderr, exit code 2
    return 0
