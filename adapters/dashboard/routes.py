"""The dashboard's routes on engagebot's one aiohttp application, mounted only when the dashboard is on (otherwise
every ``/dashboard`` address is the server's plain 404). All of them are read-only but sign-in and sign-out."""

from __future__ import annotations

from aiohttp import web

from adapters.dashboard.auth import Auth
from adapters.dashboard.downloads import Downloads
from adapters.dashboard.headers import security_headers
from adapters.dashboard.pages import Pages
from adapters.dashboard.site import Dashboard


def mount(app: web.Application, dashboard: Dashboard) -> None:
    auth = Auth(dashboard)
    pages = Pages(dashboard, auth)
    downloads = Downloads(pages)
    app.middlewares.append(security_headers)
    router = app.router
    router.add_get("/dashboard", pages.home)
    router.add_get("/dashboard/", pages.overview)
    router.add_get("/dashboard/theme", pages.theme)
    router.add_get("/dashboard/phrase", pages.phrase)
    router.add_get("/dashboard/prompts", pages.prompts)
    router.add_get("/dashboard/{page:overview|theme|phrase|prompts}.{ext:csv|json}", downloads.download)
    router.add_get("/dashboard/static/dashboard.css", pages.stylesheet)
    router.add_get("/dashboard/login/{token}", auth.login_page)
    router.add_post("/dashboard/login/{token}", auth.login)
    router.add_post("/dashboard/logout", auth.logout)
    router.add_get("/dashboard/signed-out", auth.signed_out)
