"""The dashboard's page shell and its pages without data: sign-in, signed out, errors.

Pages link one stylesheet (``/dashboard/static/dashboard.css``: the report's CSS and the dashboard's own), carry no
script and no inline style, so they work under a Content-Security-Policy of ``default-src 'none'; style-src 'self'``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from html import escape
from importlib import resources
from urllib.parse import urlencode

from bot.report.html import stylesheet as report_stylesheet

STYLESHEET = "/dashboard/static/dashboard.css"
HOME = "/dashboard/"


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def href(path: str, params: dict[str, str] | None = None) -> str:
    """A dashboard link, HTML-escaped for an attribute."""
    return esc(f"{path}?{urlencode(params)}" if params else path)


@cache
def stylesheet() -> str:
    """The report's CSS followed by the dashboard's own (``dashboard.css``)."""
    own = resources.files("bot.dashboard").joinpath("dashboard.css").read_text(encoding="utf-8")
    return report_stylesheet() + "\n" + own


def document(title: str, body: str, *, page_class: str = "") -> str:
    css = f' class="dashboard {page_class}"' if page_class else ' class="dashboard"'
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en-GB"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{esc(title)} · engagebot dashboard</title>"
        f'<link rel="stylesheet" href="{STYLESHEET}"></head>'
        f"<body{css}>{body}</body></html>\n"
    )


def hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{esc(name)}" value="{esc(value)}">'


@dataclass(frozen=True, slots=True)
class NavLink:
    label: str
    url: str  # escaped already (see ``href``)
    current: bool = False


def navigation(links: Sequence[NavLink], csrf: str) -> str:
    """The top bar: the pages, and the sign-out button (a POST form with the session's CSRF value)."""
    items = "".join(
        f'<a href="{link.url}"' + (' aria-current="page"' if link.current else "") + f">{esc(link.label)}</a>"
        for link in links
    )
    return (
        f'<nav class="top"><span class="brand">engagebot</span>{items}'
        f'<form method="post" action="/dashboard/logout" class="signout">{hidden("csrf", csrf)}'
        '<button type="submit">Sign out</button></form></nav>'
    )


def sign_in_page(action: str, csrf: str) -> str:
    """What a sign-in link shows: a Continue button. Opening the link signs nobody in; pressing Continue does."""
    body = (
        '<main class="narrow"><h1>Sign in to the engagebot dashboard</h1>'
        "<p>This link works once: press Continue to sign in on this browser. The session lasts 8 hours; sign out "
        "when you are done.</p>"
        f'<form method="post" action="{esc(action)}">{hidden("csrf", csrf)}'
        '<button type="submit" class="primary">Continue</button></form>'
        '<p class="quiet">Did not ask for this link? Close this page: nothing happens unless Continue is pressed.</p>'
        "</main>"
    )
    return document("Sign in", body, page_class="plain")


def signed_out_page() -> str:
    body = (
        '<main class="narrow"><h1>You are signed out</h1>'
        "<p>To come back, ask engagebot for a new link: <code>/engage dashboard</code> in Slack, or "
        "<code>dashboard</code> to the bot in Teams.</p></main>"
    )
    return document("Signed out", body, page_class="plain")


def error_page(title: str, text: str) -> str:
    body = f'<main class="narrow"><h1>{esc(title)}</h1><p>{esc(text)}</p><p><a href="{HOME}">Dashboard</a></p></main>'
    return document(title, body, page_class="plain")
