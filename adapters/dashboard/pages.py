"""The dashboard's pages over HTTP: each needs a session, reads its filters from the query string (400 when a value
is wrong), and is built in the dashboard's thread (``Dashboard.run``) from ``bot.dashboard``'s views and pages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from adapters.dashboard.auth import Auth, Signed, refuse
from adapters.dashboard.site import Dashboard
from bot.dashboard import pages
from bot.dashboard.filters import Filters, text_param
from bot.dashboard.html import HOME, stylesheet
from bot.dashboard.views import SORTS, NoSuchPage
from bot.errors import UsageError


@dataclass(frozen=True, slots=True)
class Asked:
    """A signed-in request for a page: its session, its filters and its query string."""

    signed: Signed
    filters: Filters
    query: dict[str, str]

    def phrase(self) -> str:
        phrase = text_param(self.query, "phrase")
        if phrase is None:
            raise NoSuchPage("no phrase")
        return phrase

    def sort(self) -> tuple[str, bool]:
        sort = self.query.get("sort") or "replies"
        order = self.query.get("order") or "desc"
        if sort not in SORTS or order not in ("asc", "desc"):
            raise UsageError(f"sort: use one of {', '.join(SORTS)}, and order asc or desc")
        return sort, order == "desc"


class Pages:
    def __init__(self, dashboard: Dashboard, auth: Auth) -> None:
        self.dashboard = dashboard
        self.auth = auth

    async def asked(self, request: web.Request) -> Asked:
        signed = await self.auth.require(request)
        query = {key: request.query.get(key, "") for key in request.query}
        try:
            filters = self.dashboard.views.filters(query)
        except UsageError as err:
            raise refuse(400, str(err)) from None
        return Asked(signed, filters, query)

    async def build(self, work: Callable[..., Any], *args: Any) -> Any:
        """Run page work in the dashboard's thread: an unknown theme or phrase is 404, a wrong parameter 400."""
        try:
            return await self.dashboard.run(work, *args)
        except NoSuchPage:
            raise web.HTTPNotFound() from None
        except UsageError as err:
            raise refuse(400, str(err)) from None

    def chrome(self, asked: Asked) -> pages.Chrome:
        views = self.dashboard.views
        return pages.Chrome(asked.signed.csrf, views.themes, views.channels())

    # -- pages ----------------------------------------------------------------------------------------------------

    async def overview(self, request: web.Request) -> web.Response:
        asked = await self.asked(request)

        def render() -> str:
            return pages.overview_page(self.dashboard.views.report(asked.filters), asked.filters, self.chrome(asked))

        return html(await self.build(render))

    async def theme(self, request: web.Request) -> web.Response:
        asked = await self.asked(request)

        def render() -> str:
            return pages.theme_page(self.dashboard.views.theme(asked.filters), asked.filters, self.chrome(asked))

        return html(await self.build(render))

    async def phrase(self, request: web.Request) -> web.Response:
        asked = await self.asked(request)

        def render() -> str:
            view = self.dashboard.views.phrase(asked.filters, asked.phrase())
            return pages.phrase_page(view, asked.filters, self.chrome(asked))

        return html(await self.build(render))

    async def prompts(self, request: web.Request) -> web.Response:
        asked = await self.asked(request)

        def render() -> str:
            view = self.dashboard.views.prompts(asked.filters, *asked.sort())
            return pages.prompts_page(view, asked.filters, self.chrome(asked))

        return html(await self.build(render))

    @staticmethod
    async def stylesheet(request: web.Request) -> web.Response:
        return web.Response(text=stylesheet(), content_type="text/css", charset="utf-8")

    @staticmethod
    async def home(request: web.Request) -> web.Response:
        """``/dashboard`` without its slash: to the overview, with the query string."""
        query = request.rel_url.raw_query_string  # as sent, still percent-encoded: nothing to inject
        location = HOME + (f"?{query}" if query else "")
        return web.Response(status=308, headers={"Location": location})


def html(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/html", charset="utf-8")
