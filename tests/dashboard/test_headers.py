"""The security headers on every dashboard response (pages, errors, downloads, redirects, the stylesheet), and a
dashboard that is off: every /dashboard address is the server's plain 404."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from tests.dashboard.site import SESSION, SIGNIN, Site, csrf_of, site

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
TOKEN = secrets.token_urlsafe(32)
ANY_PATHS = [
    "/dashboard",
    "/dashboard/",
    "/dashboard/theme",
    "/dashboard/phrase",
    "/dashboard/prompts",
    "/dashboard/overview.csv",
    "/dashboard/prompts.json",
    "/dashboard/static/dashboard.css",
    f"/dashboard/login/{TOKEN}",
    "/dashboard/signed-out",
    "/dashboard/nothing-here",
]


def assert_secured(response, what: object) -> None:
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (what, name)


async def test_every_response_carries_the_security_headers(community: Site):
    path = await community.link()
    csrf, nonce = await community.open_link(path)
    signed_in = await community.post(path, {"csrf": csrf}, cookies={SIGNIN: nonce})
    assert signed_in.status == 303
    assert_secured(signed_in, "sign-in redirect")
    session = signed_in.cookies[SESSION].value
    cookie = {SESSION: session}
    page = await community.page("/dashboard/", session)

    requests = [
        ("GET", "/dashboard", None, 308),
        ("GET", "/dashboard?to=2026-W40&x=%0d%0aSet-Cookie:%20a=b", None, 308),
        ("GET", "/dashboard/", cookie, 200),
        ("GET", "/dashboard/?to=2026-W40&weeks=4&platform=slack", cookie, 200),
        ("GET", "/dashboard/theme?theme=Workforce&to=2026-W40", cookie, 200),
        ("GET", "/dashboard/phrase?theme=Workforce&phrase=protected+time&to=2026-W40", cookie, 200),
        ("GET", "/dashboard/prompts?sort=theme&order=asc", cookie, 200),
        ("GET", "/dashboard/overview.csv", cookie, 200),
        ("GET", "/dashboard/theme.json?theme=Workforce&to=2026-W40", cookie, 200),
        ("GET", "/dashboard/static/dashboard.css", None, 200),
        ("GET", f"/dashboard/login/{TOKEN}", None, 200),
        ("GET", "/dashboard/signed-out", None, 200),
        ("GET", "/dashboard/?weeks=999", cookie, 400),
        ("GET", "/dashboard/?platform=myspace", cookie, 400),
        ("GET", "/dashboard/prompts?sort=secret", cookie, 400),
        ("GET", "/dashboard/", None, 401),
        ("GET", "/dashboard/theme?theme=Nope", cookie, 404),
        ("GET", "/dashboard/phrase?theme=Workforce&phrase=never+said&to=2026-W40", cookie, 404),
        ("GET", "/dashboard/nothing-here", cookie, 404),
        ("GET", "/dashboard/login/short", None, 404),
        ("POST", "/dashboard/", cookie, 405),
        ("POST", f"/dashboard/login/{TOKEN}", None, 403),
        ("POST", "/dashboard/logout", cookie, 403),
        ("POST", "/dashboard/logout", None, 401),
    ]
    for method, path, cookies, status in requests:
        if method == "GET":
            response = await community.get(path, cookies=cookies)
        else:
            response = await community.post(path, {}, cookies=cookies)
        assert response.status == status, (method, path, await response.text())
        assert_secured(response, (method, path))
    moved = await community.get("/dashboard?to=2026-W40&x=%0d%0aSet-Cookie:%20a=b")
    assert moved.headers["Location"].lower() == "/dashboard/?to=2026-w40&x=%0d%0aset-cookie:%20a=b"
    assert "Set-Cookie" not in moved.headers
    out = await community.post("/dashboard/logout", {"csrf": csrf_of(page)}, cookies=cookie)
    assert out.status == 303
    assert_secured(out, "sign-out redirect")


async def test_other_routes_are_left_alone(community: Site):
    response = await community.get("/healthz")
    assert response.status == 200
    assert "Content-Security-Policy" not in response.headers


@pytest.mark.parametrize(("public_url", "dashboard"), [(None, None), ("https://engagebot.example.org", False)])
async def test_a_dashboard_that_is_off_does_not_exist(tmp_path: Path, public_url: str | None, dashboard: bool | None):
    async with site(tmp_path, public_url=public_url, dashboard=dashboard) as off:
        assert off.runtime.dashboard is None
        for path in ANY_PATHS:
            response = await off.get(path)
            assert response.status == 404, path
            assert "Content-Security-Policy" not in response.headers
            assert (await off.post(path, {"csrf": "x"})).status == 404, path
        assert off.rows("SELECT * FROM dashboard_sessions") == []
