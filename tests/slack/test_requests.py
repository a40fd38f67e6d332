"""The signed route: bad signatures, malformed and oversized bodies get a 4xx, storage or Slack failures a 503,
never a 500; nothing is stored; logs hold no text, token or secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from slack_sdk.signature import SignatureVerifier

from adapters.runtime import Runtime
from bot.config import load_settings
from bot.model import PostRecord
from tests.fakes import (
    FakeSlackAPI,
    sign_slack,
    slack_event_body,
    slack_message,
    slack_reaction_added,
    slack_thread_reply,
    slack_url_verification_body,
)
from tests.slack.rig import ADMIN, CHANNEL, MEMBER, SECRET, TOKEN, Rig, new_event_id, slack_env

# -- request security and malformed input -----------------------------------------------------------------------------


async def _stored_nothing(rig: Rig) -> None:
    for table in ("replies", "reactions", "members", "seen_events", "deleted_messages"):
        assert rig.rows(table) == [], table


@pytest.mark.parametrize(
    "variant", ["forged", "missing_headers", "missing_signature", "stale_301s", "future_301s", "garbage_ts"]
)
async def test_bad_signatures_get_401_and_store_nothing(rig: Rig, variant: str) -> None:
    post = await rig.post_prompt()
    body = slack_event_body(slack_thread_reply("x", thread_ts=post.message_id, channel=CHANNEL), new_event_id())
    now = int(time.time())
    headers: dict[str, str] = {"Content-Type": "application/json"}
    if variant == "forged":
        headers.update(sign_slack(body, "wrong-secret"))
    elif variant == "missing_signature":
        headers.update({"X-Slack-Request-Timestamp": str(now)})
    elif variant == "stale_301s":
        headers.update(sign_slack(body, SECRET, now - 301))
    elif variant == "future_301s":
        headers.update(sign_slack(body, SECRET, now + 301))
    elif variant == "garbage_ts":
        headers.update({**sign_slack(body, SECRET), "X-Slack-Request-Timestamp": "soon"})
    response = await rig.client.post("/slack/events", data=body, headers=headers)
    assert response.status == 401
    await _stored_nothing(rig)


async def test_signature_within_five_minutes_is_accepted(rig: Rig) -> None:
    post = await rig.post_prompt()
    body = slack_event_body(slack_thread_reply("x", thread_ts=post.message_id, channel=CHANNEL), new_event_id())
    response = await rig.raw(body, ts=int(time.time()) - 290)
    assert response.status == 200
    assert rig.count("replies") == 1


async def test_signature_covers_the_exact_body(rig: Rig) -> None:
    post = await rig.post_prompt()
    body = slack_event_body(slack_thread_reply("x", thread_ts=post.message_id, channel=CHANNEL), new_event_id())
    headers = {"Content-Type": "application/json", **sign_slack(body, SECRET)}
    tampered = body.replace('"x"', '"y"')
    response = await rig.client.post("/slack/events", data=tampered, headers=headers)
    assert response.status == 401
    await _stored_nothing(rig)


MALFORMED = {
    "invalid_json": "{not json",
    "json_list": "[1, 2]",
    "json_string": '"event_callback"',
    "no_type": json.dumps({"event_id": "Ev1", "event": {"type": "message"}}),
    "event_without_event": json.dumps({"type": "event_callback", "event_id": "Ev1"}),
    "event_not_object": json.dumps({"type": "event_callback", "event_id": "Ev1", "event": "message"}),
    "event_type_not_string": json.dumps({"type": "event_callback", "event_id": "Ev1", "event": {"type": 5}}),
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
async def test_malformed_bodies_get_4xx(rig: Rig, body: str) -> None:
    await rig.post_prompt()
    response = await rig.raw(body)
    assert 400 <= response.status < 500
    await _stored_nothing(rig)


def _reply_with(post: PostRecord, **changes: Any) -> dict[str, Any]:
    event = slack_thread_reply("x", thread_ts=post.message_id, channel=CHANNEL)
    for key, value in changes.items():
        if value is None:
            event.pop(key)
        else:
            event[key] = value
    return event


BAD_EVENTS = {
    "ts_is_number": lambda p: _reply_with(p, ts=5),
    "ts_not_a_timestamp": lambda p: _reply_with(p, ts="yesterday"),
    "missing_user": lambda p: _reply_with(p, user=None),
    "user_is_list": lambda p: _reply_with(p, user=["U1"]),
    "missing_channel": lambda p: _reply_with(p, channel=None),
    "text_is_object": lambda p: _reply_with(p, text={"a": 1}),
    "thread_ts_is_number": lambda p: _reply_with(p, thread_ts=1.5),
    "changed_without_message": lambda p: {"type": "message", "subtype": "message_changed", "channel": CHANNEL},
    "deleted_without_ts": lambda p: {"type": "message", "subtype": "message_deleted", "channel": CHANNEL},
    "reaction_without_item": lambda p: {"type": "reaction_added", "user": MEMBER, "reaction": "+1", "event_ts": "1.0"},
    "reaction_bad_event_ts": lambda p: {**slack_reaction_added("+1", ts=p.message_id, channel=CHANNEL), "event_ts": 7},
}


@pytest.mark.parametrize("make", BAD_EVENTS.values(), ids=BAD_EVENTS.keys())
async def test_events_of_the_wrong_shape_get_400_never_500(
    rig: Rig, make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    post = await rig.post_prompt()
    with caplog.at_level(logging.INFO):
        response = await rig.raw(slack_event_body(make(post), new_event_id()))
    assert response.status == 400
    await _stored_nothing(rig)
    assert "slack request malformed status=400" in caplog.text


async def test_bad_form_bodies_get_4xx(rig: Rig) -> None:
    for body in ("payload=%7Bnot-json", "payload=%5B1%5D", "command=%2Fengage&text=help"):
        response = await rig.raw(body, content_type="application/x-www-form-urlencoded")
        assert 400 <= response.status < 500, body
    # Not UTF-8, so not a body Slack signs: rejected before anything reads it.
    raw = b"\xff\xfe{}"
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{stamp}:".encode() + raw, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
    }
    response = await rig.client.post("/slack/events", data=raw, headers=headers)
    assert 400 <= response.status < 500


async def test_empty_and_oversized_bodies(rig: Rig) -> None:
    assert (await rig.raw("")).status == 400
    assert (await rig.raw("", sign=False)).status == 401
    big = slack_event_body({"type": "message", "text": "x" * (1024 * 1024)}, new_event_id())
    assert (await rig.raw(big)).status == 413
    await _stored_nothing(rig)


async def test_storage_failure_is_503_so_slack_retries(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    post = await rig.post_prompt()

    def locked(event: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(rig.runtime.capture, "apply", locked)
    body = slack_event_body(slack_thread_reply("x", thread_ts=post.message_id, channel=CHANNEL), new_event_id())
    response = await rig.raw(body)
    assert response.status == 503
    await _stored_nothing(rig)
    monkeypatch.undo()
    assert (await rig.raw(body, headers={"X-Slack-Retry-Num": "1"})).status == 200  # Slack's retry is stored
    assert rig.count("replies") == 1


async def test_auth_test_failure_is_503_and_the_retry_is_stored(rig: Rig) -> None:
    post = await rig.post_prompt()
    rig.fake.fail_next("auth.test", error="service_unavailable")
    body = slack_event_body(slack_thread_reply("x", thread_ts=post.message_id, channel=CHANNEL), new_event_id())
    assert (await rig.raw(body)).status == 503
    await _stored_nothing(rig)
    assert (await rig.raw(body, headers={"X-Slack-Retry-Num": "1"})).status == 200
    assert rig.count("replies") == 1
    assert len(rig.fake.calls_to("auth.test")) == 2


async def test_url_verification_answers_the_challenge_when_signed(rig: Rig) -> None:
    body = slack_url_verification_body("challenge-abc")
    response = await rig.raw(body)
    assert response.status == 200
    assert await response.json() == {"challenge": "challenge-abc"}
    assert (await rig.raw(body, sign=False)).status == 401


async def test_auth_test_is_called_once(rig: Rig) -> None:
    post = await rig.post_prompt()
    for _ in range(3):
        await rig.event(slack_thread_reply("x", thread_ts=post.message_id, channel=CHANNEL))
    assert len(rig.fake.calls_to("auth.test")) == 1


# Slack's published example ("Verifying requests from Slack"; PLATFORM_NOTES §1.3).
VECTOR_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
VECTOR_TS = 1531420618
VECTOR_BODY = (
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
VECTOR_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
VECTOR_HEADERS = {
    "X-Slack-Request-Timestamp": str(VECTOR_TS),
    "X-Slack-Signature": VECTOR_SIGNATURE,
    "Content-Type": "application/x-www-form-urlencoded",
}


class FixedClock:
    def now(self) -> float:
        return float(VECTOR_TS)


def test_slack_published_signature_example() -> None:
    fixed = SignatureVerifier(VECTOR_SECRET, clock=FixedClock())  # type: ignore[arg-type]
    assert fixed.is_valid(VECTOR_BODY, str(VECTOR_TS), VECTOR_SIGNATURE)
    assert fixed.generate_signature(timestamp=str(VECTOR_TS), body=VECTOR_BODY) == VECTOR_SIGNATURE
    assert not fixed.is_valid(VECTOR_BODY + "x", str(VECTOR_TS), VECTOR_SIGNATURE)
    assert not SignatureVerifier(VECTOR_SECRET).is_valid(VECTOR_BODY, str(VECTOR_TS), VECTOR_SIGNATURE)  # stale now


async def test_adapter_signature_check_accepts_the_published_example(tmp_path: Path) -> None:
    fake = FakeSlackAPI()
    async with fake.serve() as api:
        settings = load_settings(slack_env(api, tmp_path, SLACK_SIGNING_SECRET=VECTOR_SECRET), cwd=tmp_path)
        runtime = Runtime.build(settings, with_teams=False)
        try:
            slack = runtime.slack
            assert slack is not None
            assert slack.verifier is not None
            async with TestClient(TestServer(runtime.web_app(), host="127.0.0.1")) as client:
                # With the real clock the example is five years old: rejected.
                assert not slack.verify(VECTOR_BODY, VECTOR_HEADERS)
                response = await client.post("/slack/events", data=VECTOR_BODY, headers=VECTOR_HEADERS)
                assert response.status == 401
                slack.verifier.clock = FixedClock()  # type: ignore[assignment]
                assert slack.verify(VECTOR_BODY, VECTOR_HEADERS)
                assert slack.verify(VECTOR_BODY.encode(), VECTOR_HEADERS)
                assert not slack.verify(VECTOR_BODY.replace("roadrunner", "coyote"), VECTOR_HEADERS)
                response = await client.post("/slack/events", data=VECTOR_BODY, headers=VECTOR_HEADERS)
                assert response.status == 200  # a verified command that is not ours: acknowledged, ignored
                assert fake.responses == []
        finally:
            runtime.close()


# -- logging ----------------------------------------------------------------------------------------------------------


async def test_logs_hold_no_text_token_or_secret(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    post = await rig.post_prompt()
    secret_text = "my-confidential-opinion-42"
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="adapters.slack")  # the per-event lines too
    await rig.event(slack_thread_reply(secret_text, thread_ts=post.message_id, channel=CHANNEL))
    await rig.event(slack_message(secret_text, channel=CHANNEL))
    await rig.raw(slack_event_body(_reply_with(post, text=secret_text, ts=5), new_event_id()))
    await rig.raw(slack_event_body(slack_message(secret_text), new_event_id()), secret="forged")
    await rig.command(f"summary {secret_text}", user=ADMIN)
    await rig.slack.wait_idle()
    rig.slack.events.log.flush()
    assert "slack event type=message subtype=- outcome=stored retry=0" in caplog.text  # DEBUG, one per event
    assert "slack event type=message subtype=- outcome=ignored" in caplog.text
    infos = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert [re.sub(r"seconds=\d+", "seconds=N", m) for m in infos if m.startswith("slack events ")] == [
        "slack events seconds=N stored=1 duplicate=0 ignored=1 opted_out=0 before_opt_in=0"
    ]
    for forbidden in (secret_text, TOKEN, SECRET):
        assert forbidden not in caplog.text


async def test_healthz_reports_slack_over_http(rig: Rig) -> None:
    response = await rig.client.get("/healthz")
    assert response.status == 200
    body = await response.json()
    assert (body["status"], body["slack"]) == ("ok", {"enabled": True, "mode": "http", "connected": None})
