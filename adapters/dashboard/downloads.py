"""Downloads of what a page shows (``/dashboard/<page>.csv`` and ``.json``): the same session, filters and page data
as the page itself, rendered by ``bot.dashboard.tables`` under the same privacy rules."""

from __future__ import annotations

from aiohttp import web

from adapters.dashboard.pages import Asked, Pages
from bot.dashboard import tables

TYPES = {"csv": "text/csv", "json": "application/json"}


class Downloads:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    async def download(self, request: web.Request) -> web.Response:
        name, ext = request.match_info["page"], request.match_info["ext"]
        asked = await self.pages.asked(request)
        table: tables.Table = await self.pages.build(self._table, name, asked)
        text = table.csv() if ext == "csv" else table.json()
        return web.Response(
            text=text,
            content_type=TYPES[ext],
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{table.filename(ext)}"'},
        )

    def _table(self, name: str, asked: Asked) -> tables.Table:
        views, filters = self.pages.dashboard.views, asked.filters
        match name:
            case "overview":
                return tables.overview_table(views.report(filters), filters)
            case "theme":
                return tables.theme_table(views.theme(filters), filters)
            case "phrase":
                return tables.phrase_table(views.phrase(filters, asked.phrase()), filters)
            case _:
                return tables.prompts_table(views.prompts(filters, *asked.sort()), filters)
