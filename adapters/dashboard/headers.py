"""The security headers every dashboard response carries (pages, errors, downloads, redirects), and error pages.

The middleware wraps only requests under ``/dashboard``; the rest of the server (``/slack/events``, ``/api/messages``,
``/healthz``) is untouched. An error raised by a handler or by the router (404, 405) becomes a small page with the
same headers; an unexpected exception is logged and answered 500, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.dashboard.html import error_page

logger = logging.getLogger(__name__)

PREFIX = "/dashboard"
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
REASONS = {
    400: ("Bad request", "This address asks for something the dashboard does not have."),
    401: ("Please sign in", "Ask engagebot for a sign-in link: /engage dashboard (Slack), or dashboard (Teams)."),
    403: ("Not allowed", "The dashboard refused this request."),
    404: ("Not found", "There is no such page in the dashboard."),
    405: ("Not allowed", "This page cannot be used that way."),
    500: ("Something went wrong", "The dashboard could not show this page; the error is in engagebot's log."),
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Refusal(Exception):
    """A request refused with a ready page (the middleware sends it with the security headers)."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def is_dashboard(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def page(status: int, text: str | None = None, *, title: str | None = None) -> web.Response:
    """An error page: the status's title and a plain explanation (never any data)."""
    default_title, default_text = REASONS.get(status, ("Error", "The request could not be answered."))
    html = error_page(title or default_title, text or default_text)
    return web.Response(status=status, text=html, content_type="text/html", charset="utf-8")


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not is_dashboard(request.path):
        return await handler(request)
    response: web.StreamResponse
    try:
        response = await handler(request)
    except Refusal as refusal:
        response = refusal.response
    except web.HTTPException as err:
        if err.status < 400:  # a redirect: keep its Location
            err.headers.update(SECURITY_HEADERS)
            raise
        response = page(err.status)
        if "Allow" in err.headers:
            response.headers["Allow"] = err.headers["Allow"]
    except Exception as err:
        logger.error("dashboard request failed error=%s", type(err).__name__)
        logger.debug("dashboard request failed", exc_info=True)  # may hold data: only when debugging
        response = page(500)
    response.headers.update(SECURITY_HEADERS)
    return response
