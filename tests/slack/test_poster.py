"""Posting into Slack: retries on 429 and 5xx, and Block Kit for prompts and cards."""

from __future__ import annotations

import json

from bot.ports import Card
from bot.timeutil import from_slack_ts
from tests.slack.rig import Rig

# -- posting ----------------------------------------------------------------------------------------------------------


async def test_rate_limited_post_is_retried_and_recorded_once(rig: Rig) -> None:
    rig.fake.fail_next("chat.postMessage", status=429, retry_after=0)
    post = await rig.post_prompt()
    assert len(rig.fake.calls_to("chat.postMessage")) == 2
    [row] = rig.rows("posts")
    assert row["message_id"] == post.message_id


async def test_transient_server_error_is_retried(rig: Rig) -> None:
    rig.fake.fail_next("chat.postMessage", status=503)
    await rig.post_prompt()
    assert len(rig.fake.calls_to("chat.postMessage")) == 2
    assert rig.count("posts") == 1


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
