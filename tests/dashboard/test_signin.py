"""Signing in: `/engage dashboard` on both platforms, the link's page (GET changes nothing), the POST that redeems
it once, and every refusal with its exact status, nothing stored and no data shown."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from datetime import timedelta
from pathlib import Path

import pytest

from bot.dashboard.signin import SESSION_TTL, TOKEN_TTL
from bot.timeutil import from_db, utc_now
from tests.dashboard.site import (
    SESSION,
    SIGNIN,
    SLACK_ADMIN,
    TEAMS_ADMIN,
    Site,
    csrf_of,
    set_cookies,
    site,
)
from tests.fakes import teams_channel_mention

ANSWERED_PRIVATELY = "I've replied to you in a private chat."


def token_of(path: str) -> str:
    return path.rsplit("/", 1)[1]


def assert_no_data(body: str) -> None:
    for sign in ('class="tiles"', "<svg", "<table", "Workforce", "protected time", "slack:", "teams:"):
        assert sign not in body, sign


def sessions(site: Site) -> int:
    return len(site.rows("SELECT id FROM dashboard_sessions"))


def unused(site: Site) -> int:
    return len(site.rows("SELECT 1 FROM dashboard_tokens WHERE used_at IS NULL"))


# -- asking for a link -------------------------------------------------------------------------------------------------


async def test_a_slack_admin_gets_a_private_link_and_only_its_hash_is_stored(empty: Site, caplog):
    caplog.set_level(logging.INFO)
    path = await empty.link("slack")
    token = token_of(path)
    assert len(token) == 43  # 32 random bytes, URL-safe base64

    ((stored, member, created, expires, used),) = empty.rows(
        "SELECT token_hash, member_id, created_at, expires_at, used_at FROM dashboard_tokens"
    )
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert member == f"slack:{SLACK_ADMIN}"
    assert from_db(expires) - from_db(created) == TOKEN_TTL
    assert used is None
    empty.runtime.repo.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    files = b"".join(p.read_bytes() for p in empty.tmp_path.glob("dashboard.db*"))
    assert token.encode() not in files
    assert token not in "\n".join(r.getMessage() for r in caplog.records if r.name != "aiohttp.access")
    assert empty.fake.calls_to("chat.postMessage") == []  # nothing posted anywhere: the ack is the ephemeral answer


async def test_a_teams_admin_gets_the_link_in_the_personal_chat_even_when_asked_in_a_channel(empty: Site):
    texts = await empty.teams_command("dashboard")
    assert texts[0] == "Your dashboard sign-in link"

    empty.connector.clear()
    mention = teams_channel_mention("dashboard", service_url=empty.connector.url, user_id=TEAMS_ADMIN)
    await empty.teams(mention)
    chat = empty.connector.personal_chats[TEAMS_ADMIN]
    (private,) = [c for c in empty.connector.calls_to("send_to_conversation") if c["conversation_id"] == chat]
    assert "/dashboard/login/" in str(private["body"])
    (note,) = empty.connector.calls_to("reply_to_activity")
    assert note["body"]["text"] == ANSWERED_PRIVATELY  # the channel sees one neutral line, never the link
    assert "/dashboard/login/" not in str(note["body"])
    assert [m for (m,) in empty.rows("SELECT member_id FROM dashboard_tokens")] == [f"teams:{TEAMS_ADMIN}"] * 2


@pytest.mark.parametrize("platform", ["slack", "teams"])
async def test_a_member_who_is_not_an_admin_gets_no_link(empty: Site, platform: str):
    if platform == "slack":
        ack = await empty.slack_command("dashboard", "U0MEMBER01")
        texts = [ack["text"]]
    else:
        texts = await empty.teams_command("dashboard", "29:1tmember01")
    assert "Not allowed" in texts[0]
    assert not any("/dashboard/login/" in t for t in texts)
    assert empty.rows("SELECT * FROM dashboard_tokens") == []


async def test_with_the_dashboard_off_the_command_says_so_and_stores_nothing(tmp_path: Path):
    async with site(tmp_path, public_url=None) as off:
        ack = await off.slack_command("dashboard")
        assert ack["blocks"][0]["text"]["text"] == "The dashboard is off"
        assert "public_url" in ack["text"]
        assert off.rows("SELECT * FROM dashboard_tokens") == []


# -- the link's page and the POST --------------------------------------------------------------------------------------


async def test_opening_the_link_shows_continue_and_changes_nothing_then_continue_signs_in_once(empty: Site):
    path = await empty.link()
    for _ in range(3):  # an unfurler, a mail scanner, the admin
        response = await empty.get(path)
        assert response.status == 200
        body = await response.text()
        assert 'method="post"' in body
        assert ">Continue</button>" in body
        assert_no_data(body)
        cookie = set_cookies(response)[SIGNIN]
        assert (cookie["path"], cookie["samesite"], cookie["secure"], cookie["httponly"]) == (
            "/dashboard/login", "Strict", True, True,
        )  # fmt: skip
    assert unused(empty) == 1
    assert sessions(empty) == 0

    session = await empty.sign_in(path)
    assert unused(empty) == 0
    assert sessions(empty) == 1
    assert (await empty.get("/dashboard/", cookies={SESSION: session})).status == 200

    again = await empty.get(path)  # the used link still shows the page (it is never looked up by a GET)
    assert again.status == 200
    csrf, nonce = csrf_of(await again.text()), set_cookies(again)[SIGNIN].value
    refused = await empty.post(path, {"csrf": csrf}, cookies={SIGNIN: nonce})
    assert refused.status == 403
    assert "used already" in await refused.text()
    assert SESSION not in set_cookies(refused)
    assert sessions(empty) == 1


async def test_the_session_cookie_and_the_redirect_that_drops_the_token(empty: Site):
    path = await empty.link()
    csrf, nonce = await empty.open_link(path)
    response = await empty.post(path, {"csrf": csrf}, cookies={SIGNIN: nonce})
    assert response.status == 303
    assert response.headers["Location"] == "/dashboard/"
    cookies = set_cookies(response)
    session = cookies[SESSION]
    assert (session["path"], session["samesite"], session["secure"], session["httponly"]) == (
        "/dashboard", "Strict", True, True,
    )  # fmt: skip
    assert int(session["max-age"]) == int(SESSION_TTL.total_seconds())
    assert len(session.value) == 43
    assert session.value != token_of(path)
    assert cookies[SIGNIN]["max-age"] == "0"  # the sign-in page's cookie is dropped
    ((stored,),) = empty.rows("SELECT session_hash FROM dashboard_sessions")
    assert stored == hashlib.sha256(session.value.encode()).hexdigest()


async def test_an_expired_link_is_refused(empty: Site):
    path = await empty.link()
    csrf, nonce = await empty.open_link(path)
    assert empty.runtime.dashboard is not None
    empty.runtime.dashboard.set_clock(lambda: utc_now() + TOKEN_TTL + timedelta(seconds=1))
    response = await empty.post(path, {"csrf": csrf}, cookies={SIGNIN: nonce})
    assert response.status == 403
    assert "expired" in await response.text()
    assert_no_data(await response.text())
    assert SESSION not in set_cookies(response)
    assert (unused(empty), sessions(empty)) == (1, 0)


async def test_the_link_of_a_member_no_longer_admin_is_refused(tmp_path: Path):
    async with site(tmp_path) as before:
        path = await before.link("slack")
    async with site(tmp_path, admins=f"teams:{TEAMS_ADMIN}") as after:  # restarted without the Slack admin
        csrf, nonce = await after.open_link(path)
        response = await after.post(path, {"csrf": csrf}, cookies={SIGNIN: nonce})
        assert response.status == 403
        assert "no longer an engagebot admin" in await response.text()
        assert_no_data(await response.text())
        assert (unused(after), sessions(after)) == (1, 0)


async def test_forged_and_truncated_links(empty: Site):
    real = await empty.link()
    forged = f"/dashboard/login/{secrets.token_urlsafe(32)}"
    response = await empty.get(forged)
    assert response.status == 200  # a GET never looks the token up: it cannot tell a forged one
    csrf, nonce = csrf_of(await response.text()), set_cookies(response)[SIGNIN].value
    refused = await empty.post(forged, {"csrf": csrf}, cookies={SIGNIN: nonce})
    assert refused.status == 403
    assert_no_data(await refused.text())

    for path in (real[:-1], real + "A", real[:-10], "/dashboard/login/", "/dashboard/login/" + "!" * 43):
        assert (await empty.get(path)).status == 404, path
        assert (await empty.post(path, {"csrf": csrf}, cookies={SIGNIN: nonce})).status == 404, path
    assert (unused(empty), sessions(empty)) == (1, 0)


async def test_a_post_without_the_forms_values_is_refused_and_the_link_still_works(empty: Site):
    path = await empty.link()
    csrf, nonce = await empty.open_link(path)
    other_csrf, other_nonce = await empty.open_link(await empty.link())
    attempts = [
        ({}, {SIGNIN: nonce}),  # no CSRF value
        ({"csrf": ""}, {SIGNIN: nonce}),
        ({"csrf": csrf[:-1] + ("0" if csrf[-1] != "0" else "1")}, {SIGNIN: nonce}),  # tampered
        ({"csrf": csrf}, {}),  # no sign-in cookie
        ({"csrf": csrf}, {SIGNIN: other_nonce}),  # another page's cookie
        ({"csrf": other_csrf}, {SIGNIN: other_nonce}),  # another link's form
        ({"csrf": csrf}, {SIGNIN: "short"}),
    ]
    for form, cookies in attempts:
        response = await empty.post(path, form, cookies=cookies)
        assert response.status == 403, (form, cookies)
        assert SESSION not in set_cookies(response)
    cross = await empty.post(path, {"csrf": csrf}, cookies={SIGNIN: nonce}, headers={"Origin": "https://evil.example"})
    assert cross.status == 403
    for where in ("cross-site", "same-site"):  # same-site: another subdomain of the same site
        sent = await empty.post(path, {"csrf": csrf}, cookies={SIGNIN: nonce}, headers={"Sec-Fetch-Site": where})
        assert sent.status == 403
    forged_null = {"Origin": "null", "Sec-Fetch-Site": "cross-site"}  # e.g. a sandboxed frame elsewhere
    assert (await empty.post(path, {"csrf": csrf}, cookies={SIGNIN: nonce}, headers=forged_null)).status == 403
    assert (unused(empty), sessions(empty)) == (2, 0)

    # What a browser sends from the page itself: under Referrer-Policy no-referrer, "Origin: null".
    same_site = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}
    assert (await empty.post(path, {"csrf": csrf}, cookies={SIGNIN: nonce}, headers=same_site)).status == 303
    assert (unused(empty), sessions(empty)) == (1, 1)


async def test_two_concurrent_continues_give_exactly_one_session(empty: Site):
    path = await empty.link()
    csrf, nonce = await empty.open_link(path)
    responses = await asyncio.gather(*(empty.post(path, {"csrf": csrf}, cookies={SIGNIN: nonce}) for _ in range(4)))
    assert sorted(r.status for r in responses) == [303, 403, 403, 403]
    assert sessions(empty) == 1


async def test_hashes_are_compared_in_constant_time(empty: Site, monkeypatch: pytest.MonkeyPatch):
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording)
    path = await empty.link()
    session = await empty.sign_in(path)
    token_hash = hashlib.sha256(token_of(path).encode()).hexdigest().encode()
    assert (token_hash, token_hash) in compared
    compared.clear()
    assert (await empty.get("/dashboard/signed-out", cookies={SESSION: session})).status == 200
    assert (await empty.get("/dashboard/", cookies={SESSION: session})).status == 200
    session_hash = hashlib.sha256(session.encode()).hexdigest().encode()
    assert compared == [(session_hash, session_hash)]


async def test_each_sign_in_is_logged_with_the_member_and_never_a_secret(empty: Site, caplog):
    caplog.set_level(logging.INFO)
    path = await empty.link()
    session = await empty.sign_in(path)
    # The test server's access log is left out: `engagebot serve` writes none (the path carries the token).
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name != "aiohttp.access")
    lines = [line for line in ours.splitlines() if "dashboard sign-in" in line]
    assert len(lines) == 1
    assert f"member=slack:{SLACK_ADMIN}" in lines[0]
    for secret in (token_of(path), session, hashlib.sha256(session.encode()).hexdigest()):
        assert secret not in ours
