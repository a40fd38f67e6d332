"""Sessions: every page and download needs an active one whose member is still an admin; sign-out, revocation from
the command line and expiry end it; each refusal has its exact status and shows no data."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import pytest

from bot.dashboard.signin import SESSION_TTL
from bot.timeutil import utc_now
from tests.cli_support import one_line_error, run
from tests.dashboard.site import SESSION, TEAMS_ADMIN, WEEK, Site, csrf_of, set_cookies, site
from tests.dashboard.test_signin import assert_no_data

PAGES = [
    "/dashboard/",
    f"/dashboard/?to={WEEK}&platform=teams",
    f"/dashboard/theme?theme=Workforce&to={WEEK}",
    f"/dashboard/phrase?theme=Workforce&phrase=protected+time&to={WEEK}",
    "/dashboard/prompts?sort=posted&order=asc",
    "/dashboard/overview.csv",
    "/dashboard/overview.json",
    f"/dashboard/theme.json?theme=Workforce&to={WEEK}",
    "/dashboard/prompts.csv",
]


async def refused_everywhere(site: Site, status: int, cookies: dict[str, str] | None) -> None:
    for path in PAGES:
        response = await site.get(path, cookies=cookies)
        assert response.status == status, path
        assert response.content_type == "text/html", path
        assert_no_data(await response.text())


@pytest.fixture
def cli_env(community: Site, monkeypatch: pytest.MonkeyPatch) -> Site:
    monkeypatch.setenv("ENGAGEBOT_CONFIG", str(community.tmp_path / "engagebot.toml"))
    monkeypatch.setenv("ENGAGEBOT_DB", str(community.tmp_path / "dashboard.db"))
    monkeypatch.setenv("ENGAGEBOT_ADMINS", f"teams:{TEAMS_ADMIN}")
    return community


async def test_without_a_session_every_page_is_401(community: Site):
    await refused_everywhere(community, 401, None)
    await refused_everywhere(community, 401, {SESSION: secrets.token_urlsafe(32)})  # forged, well-formed
    await refused_everywhere(community, 401, {SESSION: "x"})
    forged = await community.get("/dashboard/", cookies={SESSION: secrets.token_urlsafe(32)})
    assert set_cookies(forged)[SESSION]["max-age"] == "0"  # the useless cookie is dropped
    assert community.rows("SELECT * FROM dashboard_sessions") == []


async def test_a_session_expires_after_8_hours_whatever_the_activity(community: Site):
    session = await community.sign_in(await community.link())
    assert (await community.get("/dashboard/", cookies={SESSION: session})).status == 200
    assert community.runtime.dashboard is not None
    community.runtime.dashboard.set_clock(lambda: utc_now() + SESSION_TTL - timedelta(seconds=5))
    assert (await community.get("/dashboard/", cookies={SESSION: session})).status == 200
    community.runtime.dashboard.set_clock(lambda: utc_now() + SESSION_TTL)
    await refused_everywhere(community, 401, {SESSION: session})


async def test_a_member_removed_from_admins_loses_access_at_the_next_request(tmp_path: Path):
    async with site(tmp_path) as before:
        session = await before.sign_in(await before.link("slack"))
        assert (await before.get("/dashboard/", cookies={SESSION: session})).status == 200
    async with site(tmp_path, admins=f"teams:{TEAMS_ADMIN}") as after:
        response = await after.get("/dashboard/", cookies={SESSION: session})
        assert response.status == 403
        assert_no_data(await response.text())
        assert after.rows("SELECT ended_by FROM dashboard_sessions") == [("no longer admin",)]
    async with site(tmp_path) as restored:  # made an admin again: that session stays ended
        assert (await restored.get("/dashboard/", cookies={SESSION: session})).status == 401


async def test_sign_out_needs_the_forms_value_and_ends_the_session(community: Site):
    session = await community.sign_in(await community.link())
    page = await community.page("/dashboard/", session)
    csrf = csrf_of(page)
    for form in ({}, {"csrf": ""}, {"csrf": "0" * 64}):
        assert (await community.post("/dashboard/logout", form, cookies={SESSION: session})).status == 403
    assert (await community.post("/dashboard/logout", {"csrf": csrf})).status == 401  # no cookie: no session
    cross = await community.post(
        "/dashboard/logout", {"csrf": csrf}, cookies={SESSION: session}, headers={"Origin": "https://evil.example"}
    )
    assert cross.status == 403
    assert (await community.get("/dashboard/", cookies={SESSION: session})).status == 200  # nothing changed

    out = await community.post("/dashboard/logout", {"csrf": csrf}, cookies={SESSION: session})
    assert out.status == 303
    assert out.headers["Location"] == "/dashboard/signed-out"
    assert set_cookies(out)[SESSION]["max-age"] == "0"
    assert community.rows("SELECT ended_by FROM dashboard_sessions") == [("signed out",)]
    await refused_everywhere(community, 401, {SESSION: session})
    assert (await community.get("/dashboard/signed-out")).status == 200


async def test_revoking_from_the_command_line_ends_a_session_at_its_next_request(cli_env: Site, capsys):
    site = cli_env
    first = await site.sign_in(await site.link("slack"))
    second = await site.sign_in(await site.link("teams"))
    code, out, _ = run(capsys, "dashboard-sessions")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "id",
        "member",
        "state",
        "created",
        "(UTC)",
        "expires",
        "(UTC)",
        "last",
        "seen",
        "(UTC)",
    ]
    assert [line.split()[:3] for line in lines[1:]] == [
        ["2", f"teams:{TEAMS_ADMIN}", "active"],
        ["1", "slack:UADMIN0001", "active"],
    ]
    assert first not in out
    assert "session_hash" not in out

    code, out, _ = run(capsys, "dashboard-sessions", "--revoke", "1")
    assert (code, out.strip()) == (0, "revoked session 1 of slack:UADMIN0001")
    await refused_everywhere(site, 401, {SESSION: first})
    assert (await site.get("/dashboard/", cookies={SESSION: second})).status == 200
    code, out, _ = run(capsys, "dashboard-sessions", "--revoke", "1")
    assert (code, out.strip()) == (0, "session 1 of slack:UADMIN0001 had already ended (revoked)")

    code, out, _ = run(capsys, "dashboard-sessions", "--revoke", "all")
    assert (code, out.strip()) == (0, "revoked 1 active session")
    await refused_everywhere(site, 401, {SESSION: second})
    assert "no dashboard session 9" in one_line_error(capsys, "dashboard-sessions", "--revoke", "9")
    assert "--revoke 'x'" in one_line_error(capsys, "dashboard-sessions", "--revoke", "x")


def use_loopback(config: Path) -> None:
    config.write_text(config.read_text().replace("https://engagebot.example.org", "http://127.0.0.1:3978"))


async def test_a_local_link_only_for_a_loopback_dashboard_and_an_admin(cli_env: Site, capsys, monkeypatch):
    assert "loopback" in one_line_error(capsys, "dashboard-sessions", "--new-link", f"teams:{TEAMS_ADMIN}")
    use_loopback(cli_env.tmp_path / "engagebot.toml")
    assert "not in admins" in one_line_error(capsys, "dashboard-sessions", "--new-link", "slack:U0MEMBER01")
    assert "not a member id" in one_line_error(capsys, "dashboard-sessions", "--new-link", "nobody")
    assert "either --revoke or --new-link" in one_line_error(
        capsys, "dashboard-sessions", "--new-link", f"teams:{TEAMS_ADMIN}", "--revoke", "all"
    )
    code, out, err = run(capsys, "dashboard-sessions", "--new-link", f"teams:{TEAMS_ADMIN}")
    assert code == 0
    assert out.startswith("http://127.0.0.1:3978/dashboard/login/")
    assert "works once" in err
    path = "/dashboard/login/" + out.strip().rsplit("/", 1)[1]
    session = await cli_env.sign_in(path)  # the running site honours it (same database)
    assert (await cli_env.get("/dashboard/", cookies={SESSION: session})).status == 200
