"""`engagebot dashboard-local`: the dashboard alone, on this machine, over a database (the demo's, or a copy).

It serves only ``/dashboard/`` (no Slack, no Teams, no scheduler: it can neither post nor capture), listens on
127.0.0.1 only, and prints a single-use sign-in link for one admin; everything else is the dashboard as ``serve``
runs it: the same sign-in, sessions, headers and privacy rules. Whoever can run it can read the database file
already, so it opens no new way in.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from dataclasses import replace

from aiohttp import web

from adapters.dashboard.routes import mount
from adapters.runtime import open_dashboard
from adapters.server import bind
from bot.config import Settings
from bot.config_env import TeamsSettings
from bot.dashboard.signin import SignIn
from bot.errors import UsageError
from bot.events import parse_member_id
from storage.repository import Repository
from storage.setup import close_engagement, open_engagement

HOST = "127.0.0.1"


def local_settings(settings: Settings, port: int, member: str | None) -> tuple[Settings, str]:
    """The settings of a local dashboard, and the admin it signs in: ``member``, or the only configured admin."""
    if member is None:
        if len(settings.admins) != 1:
            raise UsageError("give --as MEMBER: the admin to sign in (e.g. --as slack:U0123ABCD)")
        (member,) = settings.admins
    try:
        parse_member_id(member)
    except ValueError as err:
        raise UsageError(f"--as: {err}") from None
    local = replace(
        settings,
        admins=settings.admins | {member},
        public_url=f"http://{HOST}:{port}",
        dashboard=True,
        slack=None,
        teams=TeamsSettings("", "", "MultiTenant", ""),
        host=HOST,
        port=port,
    )
    return local, member


async def serve_local(settings: Settings, database: str | None, port: int, member: str | None) -> int:
    local, member = local_settings(settings, port, member)
    engagement = open_engagement(local, database, existing=True)
    try:
        sockets = bind(HOST, port)
    except BaseException:
        close_engagement(engagement)
        raise
    repo = engagement.store
    assert isinstance(repo, Repository)
    dashboard = open_dashboard(local, repo, engagement.library.theme_names())
    app = web.Application(client_max_size=64 * 1024)
    mount(app, dashboard)
    runner = web.AppRunner(app, access_log=None)  # the sign-in path carries a token: no access log
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await runner.setup()
        for sock in sockets:
            await web.SockSite(runner, sock).start()
        link = SignIn(repo, local.is_admin, local.public_url).issue(member)
        print(
            f"The dashboard of {repo.path}, on this machine only: {local.public_url}/dashboard/\n"
            f"Sign in as {member} with this link (it works once, within 10 minutes):\n\n  {link.url}\n\n"
            "Ctrl-C stops it.",
            flush=True,
        )
        await stop.wait()
    finally:
        await runner.cleanup()
        for sock in sockets:
            sock.close()
        dashboard.close()
        close_engagement(engagement)
    return 0
