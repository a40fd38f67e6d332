"""Builds the running bot from settings: storage, core services, the adapters and the aiohttp application."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.capture import Capture
from bot.commands import Commands
from bot.config import Settings
from bot.dashboard.signin import SignIn
from bot.events import Platform
from bot.ports import Poster
from bot.scheduler import Scheduler
from bot.service import Engagement
from storage.repository import Repository
from storage.setup import open_engagement

if TYPE_CHECKING:
    from adapters.dashboard.site import Dashboard
    from adapters.slack.adapter import SlackAdapter
    from adapters.teams.adapter import TeamsAdapter

logger = logging.getLogger(__name__)

NO_SLACK = {"enabled": False, "mode": None, "connected": None}


@dataclass
class Runtime:
    """Everything one engagebot process runs, wired once. Tests build it with their own settings."""

    settings: Settings
    repo: Repository
    engagement: Engagement
    capture: Capture
    commands: Commands
    posters: dict[Platform, Poster] = field(default_factory=dict)
    scheduler: Scheduler | None = None  # run by `serve`; reported by /healthz
    slack: SlackAdapter | None = None
    teams: TeamsAdapter | None = None
    dashboard: Dashboard | None = None  # /dashboard/, only when settings.dashboard

    @classmethod
    def build(cls, settings: Settings, *, database: str | None = None, with_teams: bool = True) -> Runtime:
        """Wire storage, the core and each configured platform. Teams exists only when configured (``MicrosoftAppId``,
        or ``ENGAGEBOT_TEAMS_EMULATOR=1``): otherwise there is no Teams poster and ``/api/messages`` is not mounted.
        ``with_teams=False`` leaves it out even then (commands that only need Slack)."""
        engagement = open_engagement(settings, database)
        repo = engagement.store
        assert isinstance(repo, Repository)
        posters: dict[Platform, Poster] = {}
        capture = Capture(repo, require_opt_in=settings.consent == "opt-in", quote_emoji=settings.quote_emoji)
        links = SignIn(repo, settings.is_admin, settings.public_url) if settings.dashboard else None
        runtime = cls(settings, repo, engagement, capture, Commands(engagement, posters, links), posters)
        runtime.scheduler = Scheduler(engagement, posters, repo)
        if settings.slack is not None:
            from adapters.slack.adapter import SlackAdapter

            runtime.slack = SlackAdapter(
                settings.slack, capture=capture, commands=runtime.commands, names=repo, is_admin=settings.is_admin
            )
            posters[Platform.SLACK] = runtime.slack.poster
        if with_teams and settings.teams.mode is not None:
            from adapters.teams.adapter import TeamsAdapter

            runtime.teams = TeamsAdapter(settings.teams, capture=capture, commands=runtime.commands, store=repo)
            posters[Platform.TEAMS] = runtime.teams.poster
        if settings.dashboard:
            runtime.dashboard = open_dashboard(settings, repo, engagement.library.theme_names())
        return runtime

    def web_app(self) -> web.Application:
        """One aiohttp application: /slack/events, /api/messages, /healthz and /dashboard/."""
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_get("/healthz", self.healthz)
        if self.dashboard is not None:
            from adapters.dashboard.routes import mount

            mount(app, self.dashboard)
        if self.slack is not None:
            app.router.add_post("/slack/events", self.slack.handle)
        if self.teams is not None:
            app.router.add_post("/api/messages", self.teams.handle)
        app.on_startup.append(self._on_startup)
        app.on_cleanup.append(self._on_cleanup)
        return app

    async def healthz(self, request: web.Request) -> web.Response:
        try:
            ok = self.repo.healthy()
        except Exception:  # a closed or broken database is "not healthy", never a 500
            ok = False
        body: dict[str, Any] = {
            "status": "ok" if ok else "unavailable",
            "schema_version": self.repo.schema_version() if ok else None,
            "slack": await self.slack.health() if self.slack is not None else NO_SLACK,
            "teams": {"enabled": self.teams is not None, "mode": self.teams.mode if self.teams is not None else None},
        }
        if self.scheduler is not None:
            body["scheduler"] = self.scheduler.health()
        return web.json_response(body, status=200 if ok else 503)

    async def _on_startup(self, app: web.Application) -> None:
        if self.teams is not None:
            self.teams.start()
        if self.slack is not None:
            await self.slack.start()

    async def _on_cleanup(self, app: web.Application) -> None:
        if self.slack is not None:
            await self.slack.close()
        if self.teams is not None:
            await self.teams.close()

    async def aclose(self) -> None:
        """Close adapters and the database (for CLI commands that built a runtime without a server)."""
        if self.slack is not None:
            await self.slack.close()
        if self.teams is not None:
            await self.teams.close()
        self.close()

    def close(self) -> None:
        if self.dashboard is not None:
            self.dashboard.close()
        self.repo.close()


def open_dashboard(settings: Settings, repo: Repository, themes: tuple[str, ...]) -> Dashboard:
    """The dashboard on a connection of its own to the same database (read in its own thread; see its module)."""
    from adapters.dashboard.site import Dashboard

    if repo.path == ":memory:":  # a second connection would see another, empty database
        return Dashboard(settings, repo, themes)
    own = Repository.open(repo.path, migrate=False)
    return Dashboard(settings, own, themes, close_store=own.close)
