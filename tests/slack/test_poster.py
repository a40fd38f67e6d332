"""Posting into Slack: 429 retried, a post Slack may have taken never retried (in doubt), the slot marker found in
the channel's history, and Block Kit for prompts and cards."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.poster import SlackPoster, retry_after
from bot.errors import AdapterError, PostInDoubt
from bot.ports import Card
from bot.timeutil import from_slack_ts, to_slack_ts
from tests.fakes import FakeSlackAPI
from tests.serving import free_port
from tests.slack.rig import CHANNEL, Rig

# -- posting ----------------------------------------------------------------------------------------------------------


async def test_rate_limited_post_is_retried_and_recorded_once(rig: Rig) -> None:
    rig.fake.fail_next("chat.postMessage", status=429, retry_after=0)
    post = await rig.post_prompt()
    assert len(rig.fake.calls_to("chat.postMessage")) == 2
    [row] = rig.rows("posts")
    assert row["message_id"] == post.message_id


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [({"Retry-After": "7"}, 7), ({"retry-after": ["2"]}, 2), ({}, 1), ({"Retry-After": "soon"}, 1)],
)
def test_retry_after_is_slacks_whole_seconds_or_one(headers: dict[str, str | list[str]], seconds: int) -> None:
    assert retry_after(HttpResponse(status_code=429, headers=headers)) == seconds


@pytest.mark.parametrize(
    ("inject", "posted"),
    [
        pytest.param(lambda fake: fake.fail_next("chat.postMessage", status=503), 0, id="503"),
        pytest.param(lambda fake: fake.fail_next("chat.postMessage", error="internal_error"), 0, id="internal_error"),
        pytest.param(lambda fake: fake.fail_after_accept("chat.postMessage", status=500), 1, id="accept-then-500"),
        pytest.param(lambda fake: fake.fail_after_accept("chat.postMessage", drop=True), 1, id="accept-then-drop"),
    ],
)
async def test_a_post_slack_may_have_taken_is_in_doubt_and_never_retried(
    rig: Rig, inject: Callable[[FakeSlackAPI], None], posted: int
) -> None:
    inject(rig.fake)
    with pytest.raises(PostInDoubt, match="Slack may have posted to C0PROMPT"):
        await rig.post_prompt()
    assert len(rig.fake.calls_to("chat.postMessage")) == 1  # sent once, never again
    assert len(rig.fake.posted(CHANNEL)) == posted
    assert rig.count("posts") == 0


async def test_a_refused_post_is_a_plain_failure(rig: Rig) -> None:
    rig.fake.fail_next("chat.postMessage", error="not_in_channel")
    with pytest.raises(AdapterError, match="not_in_channel") as refused:
        await rig.post_prompt()
    assert not isinstance(refused.value, PostInDoubt)
    assert rig.fake.posted(CHANNEL) == []


async def test_a_connection_that_cannot_be_opened_is_a_plain_failure(tmp_path: Path) -> None:
    poster = SlackPoster(AsyncWebClient(token="xoxb-test", base_url=f"http://127.0.0.1:{free_port()}/api/"))
    with pytest.raises(AdapterError, match="ClientConnectorError") as refused:
        await poster.post_card(CHANNEL, Card("Weekly"))
    assert not isinstance(refused.value, PostInDoubt)


async def test_a_slot_post_carries_its_marker_and_is_found_in_the_channel_history(rig: Rig) -> None:
    marker = {"kind": "prompt", "slot": "2026-11-24T10:00:00+00:00", "platform": "slack", "channel": CHANNEL}
    await rig.slack.poster.post_card(CHANNEL, Card("Other"))  # no marker: not the slot's post
    sent = await rig.slack.poster.post_card(CHANNEL, Card("Weekly"), marker=marker)
    await rig.slack.poster.post_card(CHANNEL, Card("Later"))
    [_, call, _] = rig.fake.calls_to("chat.postMessage")
    assert call["args"]["metadata"] == {"event_type": "engagebot_slot", "event_payload": marker}
    since, until = sent.posted_at - timedelta(minutes=5), sent.posted_at + timedelta(minutes=5)
    found = await rig.slack.poster.find_post(CHANNEL, marker, since=since, until=until)
    assert found == sent
    [history] = rig.fake.calls_to("conversations.history")
    assert history["args"]["include_all_metadata"] in ("1", "true")
    assert history["args"]["inclusive"] in ("1", "true")
    assert (history["args"]["oldest"], history["args"]["latest"]) == (to_slack_ts(since), to_slack_ts(until))
    other_slot = {**marker, "slot": "2026-12-01T10:00:00+00:00"}
    assert await rig.slack.poster.find_post(CHANNEL, other_slot, since=since, until=until) is None


async def test_history_is_read_page_by_page(rig: Rig) -> None:
    marker = {"kind": "summary", "slot": "2026-11-30T09:00:00+00:00", "platform": "slack", "channel": CHANNEL}
    sent = await rig.slack.poster.post_card(CHANNEL, Card("Weekly"), marker=marker)
    for n in range(40):  # newer messages come first: the marked one is on the third page
        await rig.slack.poster.post_card(CHANNEL, Card(f"Chatter {n}"))
    found = await rig.slack.poster.find_post(
        CHANNEL, marker, since=sent.posted_at, until=sent.posted_at + timedelta(hours=1)
    )
    assert found == sent
    assert [c["args"].get("cursor") for c in rig.fake.calls_to("conversations.history")] == [None, "15", "30"]


async def test_prompt_and_card_render_as_block_kit(rig: Rig) -> None:
    post = await rig.post_prompt()
    [call] = rig.fake.calls_to("chat.postMessage")
    blocks = call["args"]["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    assert post.prompt in json.dumps(blocks)
    assert post.theme in call["args"]["text"]
    sent = await rig.slack.poster.post_card("C0SUMMARY", Card("Weekly", (("Posts", "3"),), (("Top", "• a"),)))
    assert sent.posted_at == from_slack_ts(sent.message_id)
    card_call = rig.fake.calls_to("chat.postMessage")[-1]
    assert card_call["args"]["channel"] == "C0SUMMARY"
    assert card_call["args"]["text"] == "Weekly\nPosts: 3\nTop\n• a"


# -- channel names for the report -----------------------------------------------------------------------------------


async def test_a_channel_name_is_asked_once_per_channel_after_a_post_and_stored(rig: Rig) -> None:
    rig.fake.channel_names[CHANNEL] = "policy-views"
    await rig.post_prompt()
    await rig.post_prompt()
    await rig.post_prompt("C0OTHER")
    assert [c["args"]["channel"] for c in rig.fake.calls_to("conversations.info")] == [CHANNEL, "C0OTHER"]
    names = {(r["platform"], r["channel_id"]): r["name"] for r in rig.rows("channels")}
    assert names == {("slack", CHANNEL): "policy-views", ("slack", "C0OTHER"): "c0other"}


async def test_a_name_lookup_that_fails_keeps_the_post_and_stores_no_name(rig: Rig) -> None:
    rig.fake.fail_next("conversations.info", error="missing_scope")
    post = await rig.post_prompt()
    assert [r["message_id"] for r in rig.rows("posts")] == [post.message_id]
    assert rig.rows("channels") == []
    await rig.post_prompt()  # asked once per process, even when it failed
    assert len(rig.fake.calls_to("conversations.info")) == 1
