"""The dashboard test site: engagebot's aiohttp app with Slack (signed requests against the fake Web API), Teams
(emulator, against the fake connector) and the dashboard, on a temp database; a community whose replies, reactions,
consents and an opt-out all arrive through the real capture paths of both platforms.

The client keeps no cookies of its own: each test sends exactly the cookies it means to, and reads Set-Cookie.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from adapters.runtime import Runtime
from bot.config import load_settings
from bot.timeutil import IsoWeek, to_slack_ts
from tests.fakes import (
    TEAMS_CHANNEL_ID,
    FakeSlackAPI,
    FakeTeamsConnector,
    sign_slack,
    slack_command_body,
    slack_event_body,
    slack_reaction_added,
    slack_thread_reply,
    teams_channel_reply,
    teams_install_conversation_update,
    teams_message_reaction,
    teams_personal_message,
)
from tests.teams.harness import adaptive_content, card_texts

SECRET = "dashboard-signing-secret-0123456789"
PUBLIC_URL = "https://engagebot.example.org"
CHANNEL = "C0PROMPT"
SLACK_ADMIN = "UADMIN0001"
TEAMS_ADMIN = "29:1admin-teams"
WEEK = IsoWeek(2026, 40)
POSTED = datetime(2026, 9, 29, 9, 0, tzinfo=UTC)  # Tuesday of 2026-W40, 10:00 in London
LINK = re.compile(r"https?://[^\s>|]+/dashboard/login/[A-Za-z0-9_-]+")
QUOTE_EMOJI = "speech_balloon"
SESSION = "engagebot_session"
SIGNIN = "engagebot_signin"
CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')

CONFIG = """
[schedule]
prompts = "0 9 1 1 *"
summary = "0 9 1 1 *"
"""


@dataclass(frozen=True, slots=True)
class Voice:
    """A simulated member: id, the name the platform shows, how they consent to quotes, what they write and react."""

    platform: str
    user_id: str
    name: str
    consent: str | None  # "command" (quote ok), "emoji" (the quote reaction, Slack) or None
    workforce: str
    prevention: str = ""
    reaction: str = ""  # a reaction to the Workforce prompt
    opts_out: bool = False

    @property
    def member(self) -> str:
        return f"{self.platform}:{self.user_id}"


VOICES = (
    Voice("slack", "U0MEMBER01", "Dr Ada Quillfeather", "command",
          "We need protected time for training posts, otherwise nobody completes the portfolio.",
          prevention="Screening uptake improves when clinics stay open late."),
    Voice("slack", "U0MEMBER02", "Bram Ostrowski", "command",
          "- protected time for CPD would keep senior physicists in post."),
    Voice("slack", "U0MEMBER03", "Cerys Vantongeren", "emoji",
          "Without protected time the training posts stay empty and rotas collapse."),
    Voice("slack", "U0MEMBER04", "Dafydd Ellingworth", None,
          "Our Quokka department lost three training posts to the hiring freeze last spring.",
          prevention="Screening in the Quince clinics is patchy at best."),
    Voice("slack", "U0MEMBER05", "Esme Hollowbrook", None,
          "Protected time is a fantasy when the Zephyr rota already has two gaps.", reaction="+1"),
    Voice("slack", "U0MEMBER06", "Fergus Lindqvist", None,
          "Career progression stalls at band seven, and the Marmalade review changed nothing.", reaction="tada"),
    Voice("slack", "U0MEMBER07", "Gita Ramaswamy", None, "+1"),
    Voice("slack", "U0MEMBER08", "Hollis Strand", "command",
          "Careers advice in the Nimbus trust is absent; protected time would help.", opts_out=True),
    Voice("teams", "29:1tmember01", "Imogen Teasdale", "command",
          "Training posts are funded but protected time for supervisors is not.",
          prevention="Our lung screening vans reach people who never come to clinics."),
    Voice("teams", "29:1tmember02", "Jalen Okonkwo", "command",
          "Career progression for clinical engineers needs a national framework.",
          prevention="Prevention funding always loses to waiting-list targets in the Juniper board."),
    Voice("teams", "29:1tmember03", "Kirsi Halvorsen", None,
          "In the Tarragon unit career progression means leaving for industry.", reaction="like"),
    Voice("teams", "29:1tmember04", "Lorcan Whitcombe", None,
          "Supervisors in the Wombat hospital have no protected time at all."),
    Voice("teams", "29:1tmember05", "Maud Pennyworth", None,
          "Training posts should be ring-fenced by the Pelican board."),
    Voice("teams", "29:1tmember06", "Niamh Corrigan", None,
          "We rely on goodwill and Saffron overtime to cover the training posts."),
)  # fmt: skip


def consented(voice: Voice) -> bool:
    return voice.consent is not None and not voice.opts_out


@dataclass
class Site:
    runtime: Runtime
    client: TestClient[Any, Any]
    fake: FakeSlackAPI
    api: TestServer
    connector: FakeTeamsConnector
    tmp_path: Path
    posts: dict[str, Any] = field(default_factory=dict)  # "slack:Workforce" -> PostRecord
    events: Iterator[int] = field(default_factory=lambda: itertools.count(1))  # Slack event ids

    # -- chat ------------------------------------------------------------------------------------------------------

    async def slack_command(self, text: str, user: str = SLACK_ADMIN) -> dict[str, Any]:
        body = slack_command_body(text, user, CHANNEL, str(self.api.make_url("/commands/T111/1/abc")))
        headers = {"Content-Type": "application/x-www-form-urlencoded", **sign_slack(body, SECRET)}
        async with self.client.post("/slack/events", data=body.encode(), headers=headers) as response:
            assert response.status == 200, await response.text()
            ack: dict[str, Any] = await response.json()
        assert self.runtime.slack is not None
        await self.runtime.slack.wait_idle()
        return ack

    async def slack_event(self, event: dict[str, Any], event_id: str) -> None:
        body = slack_event_body(event, event_id)
        headers = {"Content-Type": "application/json", **sign_slack(body, SECRET)}
        async with self.client.post("/slack/events", data=body.encode(), headers=headers) as response:
            assert response.status == 200, await response.text()

    async def teams(self, activity: dict[str, Any]) -> None:
        async with self.client.post("/api/messages", data=json.dumps(activity), headers=_JSON) as response:
            assert response.status in (200, 201), await response.text()

    async def teams_command(self, text: str, user: str = TEAMS_ADMIN) -> list[str]:
        """A command in personal chat; the texts of the card the bot answered with."""
        before = len(self.connector.calls_to("reply_to_activity"))
        chat = f"a:1personal-{user}"
        await self.teams(
            teams_personal_message(text, service_url=self.connector.url, user_id=user, conversation_id=chat)
        )
        replies = self.connector.calls_to("reply_to_activity")[before:]
        assert [r["conversation_id"] for r in replies] == [chat]
        return card_texts(adaptive_content(replies[0]["body"]))

    async def link(self, platform: str = "slack", user: str | None = None) -> str:
        """A sign-in link asked for with ``dashboard``; its path (the host is public_url's)."""
        if platform == "slack":
            ack = await self.slack_command("dashboard", user or SLACK_ADMIN)
            assert ack["response_type"] == "ephemeral"
            text = ack["text"]
        else:
            text = "\n".join(await self.teams_command("dashboard", user or TEAMS_ADMIN))
        found = LINK.findall(text)
        assert len(found) == 1, text
        assert found[0].startswith(PUBLIC_URL + "/dashboard/login/")
        return urlsplit(found[0]).path

    async def reply(self, voice: Voice, post: Any, text: str, at: datetime) -> None:
        """``voice`` replies in the thread of ``post`` at ``at``, as its platform delivers it."""
        if voice.platform == "slack":
            ts = to_slack_ts(at)
            await self._slack(
                slack_thread_reply(text, thread_ts=post.message_id, user=voice.user_id, channel=CHANNEL, ts=ts)
            )
        else:
            await self.teams(teams_channel_reply(text, root_id=post.message_id, **self._sender(voice, at)))

    async def react(self, voice: Voice, post: Any, name: str, at: datetime) -> None:
        """``voice`` reacts to ``post`` with ``name`` at ``at``."""
        if voice.platform == "slack":
            ts = to_slack_ts(at)
            await self._slack(
                slack_reaction_added(name, ts=post.message_id, user=voice.user_id, channel=CHANNEL, event_ts=ts)
            )
        else:
            await self.teams(teams_message_reaction(name, reply_to_id=post.message_id, **self._sender(voice, at)))

    async def _slack(self, event: dict[str, Any]) -> None:
        await self.slack_event(event, f"EvDash{next(self.events):04d}")

    def _sender(self, voice: Voice, at: datetime) -> dict[str, Any]:
        return {"service_url": self.connector.url, "user_id": voice.user_id, "user_name": voice.name, "timestamp": at}

    # -- the browser's side ----------------------------------------------------------------------------------------

    async def get(self, path: str, *, cookies: dict[str, str] | None = None, **kw: Any) -> ClientResponse:
        response = await self.client.get(path, headers=_cookies(cookies), allow_redirects=False, **kw)
        await response.read()
        return response

    async def post(
        self,
        path: str,
        data: dict[str, str],
        *,
        cookies: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> ClientResponse:
        sent = _cookies(cookies) | (headers or {})
        response = await self.client.post(path, data=data, headers=sent, allow_redirects=False)
        await response.read()
        return response

    async def open_link(self, path: str) -> tuple[str, str]:
        """GET the link's page as a browser does: its CSRF value and the sign-in cookie it set."""
        response = await self.get(path)
        assert response.status == 200
        return csrf_of(await response.text()), set_cookies(response)[SIGNIN].value

    async def sign_in(self, path: str) -> str:
        """Open a link and press Continue: the session cookie's value."""
        csrf, nonce = await self.open_link(path)
        response = await self.post(path, {"csrf": csrf}, cookies={SIGNIN: nonce})
        assert response.status == 303, await response.text()
        assert response.headers["Location"] == "/dashboard/"
        return set_cookies(response)[SESSION].value

    async def page(self, path: str, session: str) -> str:
        response = await self.get(path, cookies={SESSION: session})
        assert response.status == 200, (path, response.status, await response.text())
        return await response.text()

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.runtime.repo._fetchall(sql)


_JSON = {"Content-Type": "application/json"}


def _cookies(cookies: dict[str, str] | None) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}


def set_cookies(response: ClientResponse) -> SimpleCookie:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.getall("Set-Cookie", []):
        jar.load(header)
    return jar


def csrf_of(html: str) -> str:
    found = CSRF.findall(html)
    assert len(found) == 1, html
    return str(found[0])


def settings_env(tmp_path: Path, api: TestServer, *, admins: str, config: str) -> dict[str, str]:
    (tmp_path / "engagebot.toml").write_text(config)
    return {
        "ENGAGEBOT_CONFIG": str(tmp_path / "engagebot.toml"),
        "ENGAGEBOT_DB": str(tmp_path / "dashboard.db"),
        "ENGAGEBOT_ADMINS": admins,
        "SLACK_BOT_TOKEN": "xoxb-dashboard",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": str(api.make_url("/api/")),
        "ENGAGEBOT_TEAMS_EMULATOR": "1",
    }


@asynccontextmanager
async def site(
    tmp_path: Path,
    *,
    public_url: str | None = PUBLIC_URL,
    dashboard: bool | None = None,
    admins: str = f"slack:{SLACK_ADMIN},teams:{TEAMS_ADMIN}",
    extra: str = "",
    port: int | None = None,
) -> AsyncIterator[Site]:
    """The running site (not yet seeded: see ``seed``)."""
    fake = FakeSlackAPI(ts_start=POSTED.timestamp())
    fake.display_names.update({v.user_id: v.name for v in VOICES if v.platform == "slack"})
    config = CONFIG + extra
    if public_url is not None:
        config = f'public_url = "{public_url}"\n' + config
    if dashboard is not None:
        config = f"dashboard = {str(dashboard).lower()}\n" + config
    with FakeTeamsConnector() as connector:
        async with fake.serve() as api:
            settings = load_settings(settings_env(tmp_path, api, admins=admins, config=config), cwd=tmp_path)
            runtime = Runtime.build(settings)
            assert runtime.teams is not None
            runtime.teams.poster.now = lambda: POSTED + timedelta(seconds=5)
            runtime.teams.poster.base_delay = 0.0
            server = TestServer(runtime.web_app(), host="127.0.0.1", port=port)
            try:
                async with TestClient(server, cookie_jar=aiohttp.DummyCookieJar()) as client:
                    yield Site(runtime, client, fake, api, connector, tmp_path)
                    assert runtime.slack is not None
                    await runtime.slack.wait_idle()
            finally:
                runtime.close()


async def seed(site: Site) -> None:
    """Prompts on both platforms in WEEK; every voice replies and reacts through its platform's real path; quote
    consents by command and by the quote reaction; one member opts out after replying."""
    runtime = site.runtime
    assert runtime.slack is not None
    assert runtime.teams is not None
    await site.teams(teams_install_conversation_update(service_url=site.connector.url, channel_id=TEAMS_CHANNEL_ID))
    for theme in ("Workforce", "Prevention"):
        site.posts[f"slack:{theme}"] = await runtime.engagement.post_prompt(runtime.slack.poster, CHANNEL, theme)
        site.posts[f"teams:{theme}"] = await runtime.engagement.post_prompt(
            runtime.teams.poster, TEAMS_CHANNEL_ID, theme
        )
    for n, voice in enumerate(VOICES, 1):
        at = POSTED + timedelta(minutes=10 * n)
        texts = [("Workforce", voice.workforce), ("Prevention", voice.prevention)]
        for theme, text in [(theme, text) for theme, text in texts if text]:
            at += timedelta(seconds=30)
            await site.reply(voice, site.posts[f"{voice.platform}:{theme}"], text, at)
        reaction = QUOTE_EMOJI if voice.consent == "emoji" else voice.reaction
        if reaction:
            await site.react(voice, site.posts[f"{voice.platform}:Workforce"], reaction, at)
        if voice.consent == "command":
            if voice.platform == "slack":
                await site.slack_command("quote ok", voice.user_id)
            else:
                await site.teams_command("quote ok", voice.user_id)
    for voice in VOICES:
        if voice.opts_out:
            await site.slack_command("optout", voice.user_id)
    await runtime.slack.wait_idle()
