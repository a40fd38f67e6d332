"""No input crashes engagebot (SPEC §11): hypothesis-generated bodies against the real aiohttp app get a 2xx or a 4xx,
never a 5xx, and leave no half-written rows; a state machine checks the database against a reference model after every
step; and the Slack authentication edges (empty secret, replay, url_verification) behave.

Hypothesis drives synchronous tests; each test owns an event loop on which the Slack fake, the runtime and the test
client run, so one rig serves every example of a test (function-scoped fixtures and hypothesis do not mix).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import itertools
import json
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from slack_sdk.signature import SignatureVerifier

import app as engagebot_app
from adapters.runtime import Runtime
from adapters.teams.adapter import TeamsAdapter
from bot.config import load_settings
from bot.events import Platform
from bot.model import PostRecord
from bot.timeutil import from_slack_ts, to_db
from tests.fakes import (
    TEAMS_CHANNEL_ID,
    TEAMS_TEAM_ID,
    TEST_APP_ID,
    FakeSlackAPI,
    FakeTeamsConnector,
    OfflineCredentialFactory,
    OpenIdMetadataServer,
    mint_token,
    slack_command_body,
    slack_event_body,
    slack_message_changed,
    slack_message_deleted,
    slack_reaction_added,
    slack_reaction_removed,
    slack_thread_reply,
    slack_url_verification_body,
    teams_channel_reply,
    teams_edit,
    teams_install_conversation_update,
    teams_message_reaction,
    teams_personal_message,
    teams_soft_delete,
    use_offline_openid,
)

SECRET = "fuzz-signing-secret-0123456789"
TOKEN = "xoxb-fuzz"
CHANNEL = "C0FUZZ"
ADMIN = "UADMIN"
T = TypeVar("T")

FUZZ = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
MACHINE = settings(
    max_examples=40,
    stateful_step_count=30,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def sign(data: bytes, secret: str = SECRET, ts: int | None = None) -> dict[str, str]:
    timestamp = str(int(time.time()) if ts is None else ts)
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + data, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}


@dataclass
class LoopRig:
    """The real runtime (Slack configured against the fake Web API) served on 127.0.0.1, driven from sync code."""

    tmp_path: Path
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    fake: FakeSlackAPI = field(default_factory=FakeSlackAPI)
    runtime: Runtime = field(init=False)
    client: TestClient[web.Request, web.Application] = field(init=False)
    api: TestServer = field(init=False)
    post: PostRecord = field(init=False)
    sent: int = 0
    connector: FakeTeamsConnector | None = None  # given: Teams runs too (emulator mode unless env says otherwise)
    env: dict[str, str] = field(default_factory=dict)
    teams_post: PostRecord | None = None

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def start(self) -> LoopRig:
        self.run(self._start())
        return self

    async def _start(self) -> None:
        self.api = TestServer(self.fake.app(), host="127.0.0.1")
        await self.api.start_server()
        env = {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": str(self.api.make_url("/api/")),
            "ENGAGEBOT_DB": str(self.tmp_path / "fuzz.db"),
            "ENGAGEBOT_ADMINS": f"slack:{ADMIN}",
            **({"ENGAGEBOT_TEAMS_EMULATOR": "1"} if self.connector and "MicrosoftAppId" not in self.env else {}),
            **self.env,
        }
        settings = load_settings(env, cwd=self.tmp_path)
        if self.connector is not None and settings.teams.auth_enabled:
            self.runtime = Runtime.build(settings, with_teams=False)
            teams = TeamsAdapter(
                settings.teams,
                capture=self.runtime.capture,
                commands=self.runtime.commands,
                store=self.runtime.repo,
                credentials_factory=OfflineCredentialFactory(),
                also_trusted_connectors=[self.connector.url],  # the local fake stands in for the Bot Framework
            )
            self.runtime.teams = teams
            self.runtime.posters[Platform.TEAMS] = teams.poster
        else:
            self.runtime = Runtime.build(settings)
        self.client = TestClient(TestServer(self.runtime.web_app(), host="127.0.0.1"))
        await self.client.start_server()
        assert self.runtime.slack is not None
        self.post = await self.runtime.engagement.post_prompt(self.runtime.slack.poster, CHANNEL)
        if self.connector is not None and not self.runtime.settings.teams.auth_enabled:
            assert self.runtime.teams is not None
            self.runtime.teams.poster.base_delay = 0.0
            install = teams_install_conversation_update(service_url=self.connector.url)
            async with self.client.post("/api/messages", json=install) as response:
                assert response.status in (200, 201), await response.text()
            self.teams_post = await self.runtime.engagement.post_prompt(self.runtime.teams.poster, TEAMS_CHANNEL_ID)

    def close(self) -> None:
        try:
            assert self.runtime.slack is not None
            self.run(self.runtime.slack.wait_idle())
            self.run(self.client.close())
            self.run(self.api.close())
        finally:
            self.runtime.close()
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    @property
    def response_url(self) -> str:
        return str(self.api.make_url("/commands/T111/1/abc"))

    def send(self, data: bytes, headers: dict[str, str], path: str = "/slack/events") -> tuple[int, str]:
        async def go() -> tuple[int, str]:
            async with self.client.post(
                path, data=io.BytesIO(data), headers=headers, skip_auto_headers=["Content-Type"]
            ) as response:
                return response.status, await response.text()

        self.sent += 1
        status, text = self.run(go())
        assert self.runtime.slack is not None
        self.run(self.runtime.slack.wait_idle())
        return status, text

    def signed(self, body: str, content_type: str = "application/json") -> tuple[int, str]:
        data = body.encode()
        return self.send(data, {"Content-Type": content_type, **sign(data)})

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.runtime.repo._fetchall(sql, params or [])

    def healthy(self) -> bool:
        async def go() -> int:
            async with self.client.get("/healthz") as response:
                return response.status

        return self.run(go()) == 200


@pytest.fixture
def loop_rig(tmp_path: Path) -> Iterator[LoopRig]:
    rig = LoopRig(tmp_path)
    try:
        yield rig.start()
    finally:
        rig.close()


HALF_WRITTEN = {
    "reply without its post": "SELECT count(*) FROM replies WHERE post_id NOT IN (SELECT id FROM posts)",
    "reply without its member": "SELECT count(*) FROM replies WHERE member_id NOT IN (SELECT member_id FROM members)",
    "reaction pointing at no reply": """SELECT count(*) FROM reactions
        WHERE reply_id IS NOT NULL AND reply_id NOT IN (SELECT id FROM replies)""",
    "reaction pointing at no post": """SELECT count(*) FROM reactions
        WHERE post_id IS NOT NULL AND post_id NOT IN (SELECT id FROM posts)""",
    "reaction on a reply but no post": "SELECT count(*) FROM reactions WHERE reply_id IS NOT NULL AND post_id IS NULL",
    "reaction on a reply of another post": """SELECT count(*) FROM reactions x JOIN replies r ON r.id = x.reply_id
        WHERE x.post_id != r.post_id""",
    "reaction without its member": """SELECT count(*) FROM reactions
        WHERE member_id NOT IN (SELECT member_id FROM members)""",
    "stored data of an opted-out member": """SELECT (SELECT count(*) FROM replies WHERE member_id IN
        (SELECT member_id FROM optouts)) + (SELECT count(*) FROM reactions WHERE member_id IN
        (SELECT member_id FROM optouts))""",
    "reply of a deleted message": """SELECT count(*) FROM replies r JOIN deleted_messages d
        ON d.platform = r.platform AND d.channel_id = r.channel_id AND d.message_id = r.message_id""",
}


def assert_database_sound(rig: LoopRig) -> None:
    assert rig.rows("PRAGMA integrity_check") == [("ok",)]
    assert rig.rows("PRAGMA foreign_key_check") == []
    for what, sql in HALF_WRITTEN.items():
        assert rig.rows(sql) == [(0,)], what


class Blob(str):
    """A generated body; its repr is its length, so hypothesis never prints megabytes."""

    def __repr__(self) -> str:
        return f"<body of {len(self)} chars: {str.__repr__(self[:80])}...>"


# -- strategies ----------------------------------------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
wrong_types = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.lists(json_scalars, max_size=2)
)
huge_text = st.integers(min_value=10_000, max_value=400_000).map(lambda n: ("ü€𝄞 x\u202e\x00" * (n // 8 + 1))[:n])
texts = st.text(max_size=300) | huge_text
event_types = st.sampled_from(
    ["message", "reaction_added", "reaction_removed", "app_mention", "member_joined_channel", "file_shared", "", "x"]
)
subtypes = st.sampled_from(
    [None, "thread_broadcast", "file_share", "message_changed", "message_deleted", "bot_message", "channel_join", "?"]
)


@st.composite
def events(draw: st.DrawFn, post_ts: str) -> dict[str, Any]:
    """Plausible events (replies, edits, deletes, reactions) with keys dropped or given wrong types."""
    ts = draw(st.sampled_from([post_ts, "1732350700.000100", "1732350800.000200", "9" * 13, "abc", "-1.5"]))
    kind = draw(st.sampled_from(["reply", "edit", "delete", "add", "remove", "random"]))
    text = draw(texts)
    user = draw(st.sampled_from(["U111", "U222", "UBOT", ""]))
    if kind == "reply":
        event = slack_thread_reply(text, thread_ts=post_ts, channel=CHANNEL, ts=ts, user=user)
    elif kind == "edit":
        event = slack_message_changed(ts=ts, new_text=text, thread_ts=post_ts, channel=CHANNEL, user=user)
    elif kind == "delete":
        event = slack_message_deleted(deleted_ts=ts, thread_ts=post_ts, channel=CHANNEL, user=user)
    elif kind in ("add", "remove"):
        make = slack_reaction_added if kind == "add" else slack_reaction_removed
        event = make(draw(st.text(max_size=20)), ts=ts, channel=CHANNEL, user=user)
    else:
        event = {"type": draw(event_types), "subtype": draw(subtypes), "text": text, "ts": ts, "channel": CHANNEL}
    if draw(st.booleans()):
        event["type"] = draw(event_types)
        event["subtype"] = draw(subtypes)
    for key in draw(st.lists(st.sampled_from(sorted(event)), max_size=3)):
        if draw(st.booleans()):
            event.pop(key, None)
        else:
            event[key] = draw(wrong_types)
    return event


@st.composite
def envelopes(draw: st.DrawFn, post_ts: str) -> str:
    body: dict[str, Any] = json.loads(
        slack_event_body(draw(events(post_ts)), f"EvF{draw(st.integers(0, 10**9))}", event_time=1732350000)
    )
    for key in draw(st.lists(st.sampled_from(["type", "event", "event_id", "team_id", "api_app_id"]), max_size=2)):
        if draw(st.booleans()):
            body.pop(key, None)
        else:
            body[key] = draw(wrong_types | json_values)
    return Blob(json.dumps(body, ensure_ascii=draw(st.booleans())))


@st.composite
def form_bodies(draw: st.DrawFn, response_url: str) -> str:
    choice = draw(st.sampled_from(["command", "payload", "random"]))
    if choice == "command":
        fields = {
            "command": draw(st.sampled_from(["/engage", "/other", ""])),
            "text": draw(st.sampled_from(["help", "privacy", "mydata", "summary", "optin", "quote", ""]) | texts),
            "user_id": draw(st.sampled_from(["U111", ""])),
            "channel_id": CHANNEL,
            "response_url": response_url,
        }
        for key in draw(st.lists(st.sampled_from(sorted(fields)), max_size=2)):
            fields.pop(key, None)
        return Blob(urlencode(fields))
    if choice == "payload":
        return urlencode(
            {"payload": draw(st.sampled_from([json.dumps(draw(json_values)), draw(st.text(max_size=60))]))}
        )
    return urlencode(draw(st.dictionaries(st.text(max_size=10), st.text(max_size=40), max_size=5)))


raw_bodies = st.binary(max_size=300) | st.text(max_size=300) | json_values.map(json.dumps)
content_types = st.sampled_from(
    ["application/json", "application/x-www-form-urlencoded", "text/plain", "application/json; charset=latin-1", ""]
)


def check_response(rig: LoopRig, status: int, signed: bool) -> None:
    assert status < 500, status
    assert 200 <= status < 500
    if not signed:
        assert status in (401, 413)  # beyond 1 MiB aiohttp refuses the body before anything reads it


# -- 1. fuzz -----------------------------------------------------------------------------------------------------------


def test_fuzzed_event_envelopes_never_5xx_nor_half_written(loop_rig: LoopRig) -> None:
    @FUZZ
    @given(body=envelopes(loop_rig.post.message_id), signed=st.booleans(), retry=st.sampled_from([None, "1", "x"]))
    def check(body: str, signed: bool, retry: str | None) -> None:
        data = body.encode()
        headers = {"Content-Type": "application/json", **(sign(data) if signed else {})}
        if retry is not None:
            headers["X-Slack-Retry-Num"] = retry
        status, _ = loop_rig.send(data, headers)
        check_response(loop_rig, status, signed)
        assert_database_sound(loop_rig)

    check()
    assert loop_rig.healthy()


def test_fuzzed_forms_and_raw_bodies_never_5xx(loop_rig: LoopRig) -> None:
    @FUZZ
    @given(
        body=form_bodies(loop_rig.response_url) | raw_bodies,
        content_type=content_types,
        signed=st.booleans(),
    )
    def check(body: str | bytes, content_type: str, signed: bool) -> None:
        body = body.encode() if isinstance(body, str) else body
        headers = {"Content-Type": content_type} if content_type else {}
        if signed:
            headers.update(sign(body))
        status, _ = loop_rig.send(body, headers)
        check_response(loop_rig, status, signed)
        assert_database_sound(loop_rig)

    check()
    assert loop_rig.healthy()


def test_fuzzed_signature_headers_are_401_never_5xx(loop_rig: LoopRig) -> None:
    header_values = st.text(max_size=80) | st.sampled_from(["", "v0=", "v1=00", "0", "-1", "99999999999999999999"])

    @FUZZ
    @given(timestamp=header_values, signature=header_values)
    def check(timestamp: str, signature: str) -> None:
        data = slack_event_body(slack_thread_reply("x", thread_ts=loop_rig.post.message_id, channel=CHANNEL), "EvS")
        headers = {"Content-Type": "application/json"}
        try:
            headers.update({"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature})
            status, _ = loop_rig.send(data.encode(), headers)
        except ValueError:
            return  # aiohttp refuses to send header values with control characters: nothing reached the server
        assert status == 401
        assert loop_rig.rows("SELECT count(*) FROM replies") == [(0,)]

    check()


def test_oversized_bodies_get_413_not_5xx(loop_rig: LoopRig) -> None:
    text = "x" * (1024 * 1024 + 10)
    body = slack_event_body(slack_thread_reply(text, thread_ts=loop_rig.post.message_id, channel=CHANNEL), "EvBig")
    status, _ = loop_rig.signed(body)
    assert status == 413
    assert loop_rig.rows("SELECT count(*) FROM replies") == [(0,)]
    assert loop_rig.healthy()


# -- 1b. the state machine: valid signed events in any order vs a reference model --------------------------------

MEMBERS = ("U1", "U2", "U3")
NAMES = ("+1", "tada", "heart")


@dataclass
class Model:
    """What SPEC §7 says the database holds after the events so far."""

    post_ts: str
    authors: dict[str, str] = field(default_factory=dict)  # every reply ts sent -> its author
    replies: dict[str, dict[str, Any]] = field(default_factory=dict)  # ts -> {member, text, created, edited}
    deleted: set[str] = field(default_factory=set)
    optouts: set[str] = field(default_factory=set)
    reactions: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (target, member, name) -> added at

    def counted_reactions(self) -> dict[tuple[str, str, str], str]:
        return {
            key: at
            for key, at in self.reactions.items()
            if (key[0] == self.post_ts or key[0] in self.replies) and key[1] not in self.optouts
        }


def run_machine(rig: LoopRig) -> None:
    post_ts = rig.post.message_id
    base = int(post_ts.split(".")[0])
    clock = itertools.count(1)
    ids = itertools.count(1)

    def next_ts() -> str:
        return f"{base + next(clock)}.000100"

    class CaptureMachine(RuleBasedStateMachine):
        sent = Bundle("sent")  # (body) of every event delivered, for duplicate deliveries

        def __init__(self) -> None:
            super().__init__()
            with rig.runtime.repo.transaction():
                for table in (
                    "reactions",
                    "replies",
                    "members",
                    "optouts",
                    "seen_events",
                    "deleted_messages",
                    "erasures",
                    "member_watermarks",
                    "consents",
                    "consent_withdrawals",
                ):
                    rig.runtime.repo.db.execute(f"DELETE FROM {table}")
            self.model = Model(post_ts)

        def deliver(self, event: dict[str, Any], event_id: str | None = None) -> str:
            body = slack_event_body(event, event_id or f"EvM{next(ids)}")
            status, text = rig.signed(body)
            assert status == 200, text
            return body

        @initialize(target=sent)
        def first_reply(self) -> str:
            return self._reply("U1", "first")

        @rule(target=sent, member=st.sampled_from(MEMBERS), text=st.text(max_size=30))
        def reply(self, member: str, text: str) -> str:
            return self._reply(member, text)

        def _reply(self, member: str, text: str) -> str:
            ts = next_ts()
            body = self.deliver(slack_thread_reply(text, thread_ts=post_ts, channel=CHANNEL, ts=ts, user=member))
            self.model.authors[ts] = member
            if member not in self.model.optouts and ts not in self.model.deleted:
                self.model.replies[ts] = {"member": member, "text": text, "created": ts, "edited": None}
            return body

        def _reply_ts(self, data: st.DataObject) -> str | None:
            if not self.model.authors:
                return None
            return data.draw(st.sampled_from(sorted(self.model.authors)))

        @rule(target=sent, data=st.data(), text=st.text(max_size=30))
        def edit(self, data: st.DataObject, text: str) -> str:
            ts = self._reply_ts(data) or post_ts
            author = self.model.authors.get(ts, "U1")
            edit_ts = next_ts()
            event = slack_message_changed(
                ts=ts, new_text=text, thread_ts=post_ts, channel=CHANNEL, user=author, edit_ts=edit_ts
            )
            body = self.deliver(event)
            if ts != post_ts and ts not in self.model.deleted and author not in self.model.optouts:
                reply = self.model.replies.setdefault(ts, {"member": author, "created": ts})
                reply.update(text=text, edited=edit_ts)
            return body

        @rule(target=sent, data=st.data())
        def delete(self, data: st.DataObject) -> str:
            ts = self._reply_ts(data) or next_ts()  # a deletion may also come before its reply
            body = self.deliver(
                slack_message_deleted(deleted_ts=ts, thread_ts=post_ts, channel=CHANNEL, event_ts=next_ts())
            )
            self.model.deleted.add(ts)
            self.model.replies.pop(ts, None)
            self.model.reactions = {k: v for k, v in self.model.reactions.items() if k[0] != ts}
            return body

        @rule(
            target=sent, data=st.data(), member=st.sampled_from(MEMBERS), name=st.sampled_from(NAMES), add=st.booleans()
        )
        def react(self, data: st.DataObject, member: str, name: str, add: bool) -> str:
            target = data.draw(st.sampled_from([post_ts, *sorted(self.model.authors)]))
            at = next_ts()
            make = slack_reaction_added if add else slack_reaction_removed
            body = self.deliver(make(name, ts=target, channel=CHANNEL, user=member, event_ts=at))
            if member not in self.model.optouts and target not in self.model.deleted:
                key = (target, member, name)
                if add:
                    self.model.reactions[key] = at
                else:
                    self.model.reactions.pop(key, None)
            return body

        @rule(body=sent, new_id=st.booleans())
        def deliver_again(self, body: str, new_id: bool) -> None:
            """A retry (same event_id) or a second delivery (new id) of any earlier event changes nothing."""
            if new_id:
                envelope = json.loads(body)
                envelope["event_id"] = f"EvM{next(ids)}"
                body = json.dumps(envelope)
            status, text = rig.signed(body)
            assert status == 200, text

        @rule(member=st.sampled_from(MEMBERS))
        def opt_out(self, member: str) -> None:
            body = slack_command_body("optout", member, CHANNEL, rig.response_url)
            status, text = rig.signed(body, "application/x-www-form-urlencoded")
            assert status == 200, text
            model = self.model
            model.optouts.add(member)
            gone = {ts for ts, r in model.replies.items() if r["member"] == member}
            model.replies = {ts: r for ts, r in model.replies.items() if ts not in gone}
            model.reactions = {k: v for k, v in model.reactions.items() if k[1] != member and k[0] not in gone}

        @invariant()
        def database_matches_model(self) -> None:
            model = self.model
            replies = {
                ts: {"member": m, "text": text, "created": created, "edited": edited}
                for ts, m, text, created, edited in rig.rows(
                    "SELECT message_id, member_id, text, created_at, edited_at FROM replies"
                )
            }
            expected = {
                ts: {
                    "member": f"slack:{r['member']}",
                    "text": r["text"],
                    "created": to_db(from_slack_ts(r["created"])),
                    "edited": to_db(from_slack_ts(r["edited"])) if r["edited"] else None,
                }
                for ts, r in model.replies.items()
            }
            assert replies == expected
            reactions = {
                (target, member, name): created
                for target, member, name, created in rig.rows(
                    """SELECT target_id, member_id, name, created_at FROM reactions
                       WHERE post_id IS NOT NULL AND removed_at IS NULL"""
                )
            }
            assert reactions == {
                (t, f"slack:{m}", n): to_db(from_slack_ts(at)) for (t, m, n), at in model.counted_reactions().items()
            }
            assert {m for (m,) in rig.rows("SELECT member_id FROM optouts")} == {f"slack:{m}" for m in model.optouts}
            assert_database_sound(rig)

    run_state_machine_as_test(CaptureMachine, settings=MACHINE)


def test_capture_state_machine_matches_reference_model(loop_rig: LoopRig) -> None:
    run_machine(loop_rig)


# -- 2. auth edges -----------------------------------------------------------------------------------------------------


def test_empty_signing_secret_is_a_config_error_at_start(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "  ")
    monkeypatch.setenv("ENGAGEBOT_DB", str(workdir / "e.db"))
    assert engagebot_app.main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "SLACK_SIGNING_SECRET" in err
    assert len(err.strip().splitlines()) == 1
    assert not (workdir / "e.db").exists()  # nothing started


class FrozenClock:
    def __init__(self, now: float) -> None:
        self.at = now

    def now(self) -> float:
        return self.at


def test_a_replayed_request_older_than_five_minutes_is_401(loop_rig: LoopRig) -> None:
    slack = loop_rig.runtime.slack
    assert slack is not None
    clock = FrozenClock(time.time())
    slack.verifier = SignatureVerifier(SECRET, clock=clock)  # type: ignore[arg-type]
    event = slack_thread_reply("hello", thread_ts=loop_rig.post.message_id, channel=CHANNEL)
    data = slack_event_body(event, "EvReplay").encode()
    headers = {"Content-Type": "application/json", **sign(data, ts=int(clock.at))}
    assert loop_rig.send(data, headers)[0] == 200
    with loop_rig.runtime.repo.transaction():
        loop_rig.runtime.repo.db.execute("DELETE FROM replies")
        loop_rig.runtime.repo.db.execute("DELETE FROM seen_events")
    clock.at += 299
    assert loop_rig.send(data, headers)[0] == 200  # within the window: a retry, accepted (and deduplicated)
    clock.at += 2  # now 301 s after the signature's timestamp: the very same bytes and headers are a replay
    with loop_rig.runtime.repo.transaction():
        loop_rig.runtime.repo.db.execute("DELETE FROM replies")
        loop_rig.runtime.repo.db.execute("DELETE FROM seen_events")
    status, _ = loop_rig.send(data, headers)
    assert status == 401
    assert loop_rig.rows("SELECT count(*) FROM replies") == [(0,)]


def test_a_request_signed_more_than_five_minutes_ago_is_401(loop_rig: LoopRig) -> None:
    event = slack_thread_reply("late", thread_ts=loop_rig.post.message_id, channel=CHANNEL)
    data = slack_event_body(event, "EvOld").encode()
    for skew in (-301, 301):
        status, _ = loop_rig.send(data, {"Content-Type": "application/json", **sign(data, ts=int(time.time()) + skew)})
        assert status == 401
    assert loop_rig.rows("SELECT count(*) FROM replies") == [(0,)]


def test_url_verification_signed_answers_unsigned_is_401(loop_rig: LoopRig) -> None:
    body = slack_url_verification_body("challenge-✓-42")
    status, text = loop_rig.signed(body)
    assert status == 200
    assert json.loads(text) == {"challenge": "challenge-✓-42"}
    status, text = loop_rig.send(body.encode(), {"Content-Type": "application/json"})
    assert status == 401
    assert "challenge-✓-42" not in text
    status, _ = loop_rig.send(body.encode(), {"Content-Type": "application/json", **sign(body.encode(), "wrong")})
    assert status == 401


# -- Teams: Bot Framework activities (emulator mode) and tokens (MicrosoftAppId set) -----------------------------------


@pytest.fixture
def connector(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTeamsConnector]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with FakeTeamsConnector() as fake:
        fake.channels[TEAMS_TEAM_ID] = [{"id": TEAMS_TEAM_ID, "name": None}, {"id": TEAMS_CHANNEL_ID, "name": "P"}]
        yield fake


@pytest.fixture
def teams_rig(tmp_path: Path, connector: FakeTeamsConnector) -> Iterator[LoopRig]:
    rig = LoopRig(tmp_path, connector=connector)
    try:
        yield rig.start()
    finally:
        rig.close()


@st.composite
def activities(draw: st.DrawFn, service_url: str, root_id: str) -> Blob:
    """Teams activities (replies, reactions, edits, deletes, personal commands) with keys dropped or mistyped."""
    kind = draw(st.sampled_from(["reply", "reaction", "edit", "delete", "personal", "install"]))
    text = draw(texts)
    target = draw(st.sampled_from([root_id, "1732350100001", "", "x"]))
    if kind == "reply":
        activity = teams_channel_reply(text, root_id=target or root_id, service_url=service_url)
    elif kind == "reaction":
        name = draw(st.sampled_from(["like", "heart", "laugh", "x"]))
        removed = draw(st.booleans())
        activity = teams_message_reaction(name, reply_to_id=target or root_id, service_url=service_url, removed=removed)
    elif kind == "edit":
        activity = teams_edit(text, message_id=target or root_id, service_url=service_url, root_id=root_id)
    elif kind == "delete":
        activity = teams_soft_delete(message_id=target or root_id, service_url=service_url, root_id=root_id)
    elif kind == "personal":
        activity = teams_personal_message(
            draw(st.sampled_from(["help", "privacy", "mydata", "optout"])), service_url=service_url
        )
    else:
        activity = teams_install_conversation_update(service_url=service_url)
    for key in draw(st.lists(st.sampled_from(sorted(activity)), max_size=3)):
        if key == "serviceUrl":
            continue  # a foreign serviceUrl would only make the bot call out; its validation is tested elsewhere
        if draw(st.booleans()):
            activity.pop(key, None)
        else:
            activity[key] = draw(wrong_types | json_values)
    return Blob(json.dumps(activity, ensure_ascii=draw(st.booleans())))


def test_fuzzed_teams_activities_never_5xx_nor_half_written(teams_rig: LoopRig, connector: FakeTeamsConnector) -> None:
    assert teams_rig.teams_post is not None

    @FUZZ
    @given(
        body=activities(connector.url, teams_rig.teams_post.message_id) | raw_bodies,
        content_type=st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", ""]),
    )
    def check(body: str | bytes, content_type: str) -> None:
        data = body.encode() if isinstance(body, str) else body
        headers = {"Content-Type": content_type} if content_type else {}
        status, _ = teams_rig.send(data, headers, "/api/messages")
        assert 200 <= status < 500, status
        assert_database_sound(teams_rig)

    check()
    assert teams_rig.healthy()


def test_teams_tokens_expired_garbled_or_missing_are_401(tmp_path: Path, connector: FakeTeamsConnector) -> None:
    with OpenIdMetadataServer() as server, use_offline_openid(server):
        env = {"MicrosoftAppId": TEST_APP_ID, "MicrosoftAppPassword": "x", "MicrosoftAppType": "MultiTenant"}
        rig = LoopRig(tmp_path, connector=connector, env=env)
        try:
            rig.start()
            body = json.dumps(teams_install_conversation_update(service_url=connector.url)).encode()
            json_header = {"Content-Type": "application/json"}
            fixed = {
                "missing": None,
                "expired": f"Bearer {mint_token(TEST_APP_ID, connector.url, expires_in=-301)}",
                "garbled": "Bearer not-a-jwt",
                "unsigned": "Bearer eyJhbGciOiJub25lIn0.eyJhdWQiOiJ4In0.",
            }
            for name, auth in fixed.items():
                status, _ = rig.send(
                    body, {**json_header, **({"Authorization": auth} if auth else {})}, "/api/messages"
                )
                assert status == 401, name

            @FUZZ
            @given(auth=st.text(max_size=120) | st.text(max_size=120).map("Bearer ".__add__))
            def check(auth: str) -> None:
                try:
                    status, _ = rig.send(body, {**json_header, "Authorization": auth}, "/api/messages")
                except ValueError:
                    return  # a header value aiohttp refuses to send never reached the server
                assert status == 401, auth

            check()
            assert rig.rows("SELECT count(*) FROM conversation_refs") == [(0,)]
            assert connector.calls == []
            good = f"Bearer {mint_token(TEST_APP_ID, connector.url)}"
            assert rig.send(body, {**json_header, "Authorization": good}, "/api/messages")[0] in (200, 201)
        finally:
            rig.close()


# -- hostile JSON on both endpoints: nesting deeper than any payload, numbers no payload carries ----------------------

HOSTILE_NUMBERS = ["1e999999", "-1e999999", "1e400", "NaN", "Infinity", "-Infinity", "9" * 20, "1" + "0" * 100_000]
SENTINEL = "__HOSTILE__"


def nested(depth: int, kind: str) -> str:
    """JSON text nested ``depth`` containers deep (built as text: json.dumps itself would recurse)."""
    if kind == "list":
        return "[" * depth + "1" + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def with_value(payload: dict[str, Any], path: tuple[str, ...], raw: str) -> bytes:
    """``payload`` as JSON with the value at ``path`` replaced by the raw JSON text ``raw``."""
    body = json.loads(json.dumps(payload))
    target = body
    for key in path[:-1]:
        if not isinstance(target.get(key), dict):
            target[key] = {}
        target = target[key]
    target[path[-1]] = SENTINEL
    return json.dumps(body).replace(json.dumps(SENTINEL), raw, 1).encode()


@st.composite
def hostile_values(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return draw(st.sampled_from(HOSTILE_NUMBERS))
    return nested(draw(st.integers(min_value=65, max_value=20_000)), draw(st.sampled_from(["list", "object"])))


TEAMS_PATHS = [("text",), ("timestamp",), ("id",), ("value",), ("channelData",), ("channelData", "channel", "id")]
TEAMS_PATHS += [("conversation", "id"), ("from", "name"), ("entities",), ("attachments",), ("extra",)]
SLACK_PATHS = [("event", "text"), ("event", "ts"), ("event", "blocks"), ("event_time",), ("event_id",), ("extra",)]


def test_hostile_json_is_400_on_both_endpoints_and_nothing_is_stored(
    teams_rig: LoopRig, connector: FakeTeamsConnector
) -> None:
    assert teams_rig.teams_post is not None
    teams_reply = teams_channel_reply("x", root_id=teams_rig.teams_post.message_id, service_url=connector.url)
    slack_reply = json.loads(
        slack_event_body(slack_thread_reply("x", thread_ts=teams_rig.post.message_id, channel=CHANNEL), "EvHostile")
    )
    json_header = {"Content-Type": "application/json"}
    calls = len(connector.calls)
    statuses: dict[tuple[str, str, tuple[str, ...]], int] = {}
    cases = [nested(d, k) for d in (65, 1_000, 100_000) for k in ("list", "object")] + HOSTILE_NUMBERS
    for raw in cases:
        name = raw[:12]
        for path in TEAMS_PATHS:
            statuses[("teams", name, path)] = teams_rig.send(
                with_value(teams_reply, path, raw), json_header, "/api/messages"
            )[0]
        for path in SLACK_PATHS:
            data = with_value(slack_reply, path, raw)
            statuses[("slack signed", name, path)] = teams_rig.send(data, {**json_header, **sign(data)})[0]
            statuses[("slack unsigned", name, path)] = teams_rig.send(data, json_header)[0]
        # a whole body that is nothing but nesting
        statuses[("teams", name, ())] = teams_rig.send(raw.encode(), json_header, "/api/messages")[0]
    expected = {key: 401 if key[0] == "slack unsigned" else 400 for key in statuses}
    assert statuses == expected
    assert teams_rig.rows("SELECT count(*) FROM replies") == [(0,)]
    assert teams_rig.rows("SELECT count(*) FROM seen_events") == [(0,)]
    assert len(connector.calls) == calls  # nothing was sent anywhere
    assert_database_sound(teams_rig)

    # the same payloads, well formed (and nested as deep as real ones), are stored: the refusals were about the JSON
    ordinary = nested(10, "object")
    assert teams_rig.send(with_value(teams_reply, ("extra",), ordinary), json_header, "/api/messages")[0] == 201
    data = with_value(slack_reply, ("extra",), ordinary)
    assert teams_rig.send(data, {**json_header, **sign(data)})[0] == 200
    assert teams_rig.rows("SELECT count(*) FROM replies") == [(2,)]


def test_fuzzed_hostile_json_is_400_never_5xx(teams_rig: LoopRig, connector: FakeTeamsConnector) -> None:
    assert teams_rig.teams_post is not None
    teams_reply = teams_channel_reply("x", root_id=teams_rig.teams_post.message_id, service_url=connector.url)
    slack_reply = json.loads(
        slack_event_body(slack_thread_reply("x", thread_ts=teams_rig.post.message_id, channel=CHANNEL), "EvFuzzHostile")
    )

    @settings(FUZZ, max_examples=60)
    @given(
        raw=hostile_values(),
        teams_path=st.sampled_from(TEAMS_PATHS),
        slack_path=st.sampled_from(SLACK_PATHS),
        signed=st.booleans(),
        form=st.booleans(),
    )
    def check(raw: str, teams_path: tuple[str, ...], slack_path: tuple[str, ...], signed: bool, form: bool) -> None:
        data = with_value(teams_reply, teams_path, raw)
        assert teams_rig.send(data, {"Content-Type": "application/json"}, "/api/messages")[0] == 400
        if form:  # interactivity: the JSON arrives in the `payload` field of a form
            data = urlencode({"payload": with_value({"type": "block_actions"}, slack_path, raw).decode()}).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
        else:
            data = with_value(slack_reply, slack_path, raw)
            headers = {"Content-Type": "application/json"}
        status, _ = teams_rig.send(data, {**headers, **(sign(data) if signed else {})})
        assert status == (400 if signed else 401)
        assert teams_rig.rows("SELECT count(*) FROM replies") == [(0,)]

    check()
    assert_database_sound(teams_rig)
    assert teams_rig.healthy()
