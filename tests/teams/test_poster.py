"""Posting into Teams: 429 retried, a post the connector may have taken never retried (in doubt, and not
checkable), permanent failures an AdapterError with nothing stored, summaries as Adaptive Card threads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from bot.errors import AdapterError, NoConversationReference, PostInDoubt, PostUnverifiable
from bot.ports import Card
from tests.fakes import TEAMS_CHANNEL_ID, TEAMS_TEAM_ID, FakeTeamsConnector, teams_install_conversation_update
from tests.teams.harness import OTHER_CHANNEL, Harness, adaptive_content, card_texts

# --------------------------------------------------------------------------------------------------------------------
# posting failures


async def test_429_is_retried_and_the_post_stored_once(harness: Harness) -> None:
    await harness.send(teams_install_conversation_update(service_url=harness.url))
    harness.connector.fail_next("create_conversation", status=429, retry_after="0")
    post = await harness.runtime.engagement.post_prompt(harness.adapter.poster, TEAMS_CHANNEL_ID)
    assert len(harness.connector.calls_to("create_conversation")) == 2
    assert harness.rows("SELECT message_id FROM posts") == [{"message_id": post.message_id}]


@pytest.mark.parametrize(
    ("inject", "posted"),
    [
        pytest.param(lambda c: c.fail_next("create_conversation", status=503), 0, id="503"),
        pytest.param(lambda c: c.fail_after_accept("create_conversation", status=500), 1, id="accept-then-500"),
        pytest.param(lambda c: c.fail_after_accept("create_conversation", drop=True), 1, id="accept-then-drop"),
    ],
)
async def test_a_post_the_connector_may_have_taken_is_in_doubt_and_never_retried(
    harness: Harness, inject: Callable[[FakeTeamsConnector], None], posted: int
) -> None:
    await harness.send(teams_install_conversation_update(service_url=harness.url))
    inject(harness.connector)
    with pytest.raises(PostInDoubt, match="Teams may have posted"):
        await harness.runtime.engagement.post_prompt(harness.adapter.poster, TEAMS_CHANNEL_ID)
    assert len(harness.connector.calls_to("create_conversation")) == 1  # neither we nor msrest sent it again
    assert len(harness.connector.threads) == posted
    assert harness.count("posts") == 0


async def test_a_post_in_doubt_cannot_be_checked_on_teams(harness: Harness) -> None:
    now = datetime.now(UTC)
    with pytest.raises(PostUnverifiable, match="cannot be checked"):
        await harness.adapter.poster.find_post(TEAMS_CHANNEL_ID, {"kind": "prompt"}, since=now, until=now)
    assert harness.connector.calls == []


async def test_permanent_failures_raise_adapter_error_and_store_nothing(harness: Harness) -> None:
    await harness.send(teams_install_conversation_update(service_url=harness.url))
    harness.connector.fail_next("create_conversation", status=429, times=3)
    with pytest.raises(AdapterError, match="HTTP 429"):
        await harness.runtime.engagement.post_prompt(harness.adapter.poster, TEAMS_CHANNEL_ID)
    assert len(harness.connector.calls_to("create_conversation")) == 3

    harness.connector.clear()
    harness.connector.fail_next("create_conversation", status=403, code="BotNotInConversationRoster")
    with pytest.raises(AdapterError, match="HTTP 403"):
        await harness.runtime.engagement.post_prompt(harness.adapter.poster, TEAMS_CHANNEL_ID)
    assert len(harness.connector.calls_to("create_conversation")) == 1  # not retried
    assert harness.count("posts") == 0


@pytest.mark.long  # msrest retries each connection itself (about 20 s in all)
async def test_unreachable_connector_is_retried_then_an_adapter_error(harness: Harness) -> None:
    dead = "http://127.0.0.1:9/"  # discard port: nothing listens
    assert await harness.send(teams_install_conversation_update(service_url=dead)) == 201  # channel listing failed
    assert [r["channel_id"] for r in harness.rows("SELECT channel_id FROM conversation_refs")] == [TEAMS_TEAM_ID]
    with pytest.raises(AdapterError, match="cannot reach Teams"):
        await harness.runtime.engagement.post_prompt(harness.adapter.poster, TEAMS_TEAM_ID)
    assert harness.count("posts") == 0


async def test_channel_without_reference_fails_clearly_and_others_still_post(harness: Harness) -> None:
    await harness.send(teams_install_conversation_update(service_url=harness.url))
    with pytest.raises(NoConversationReference, match="install the app"):
        await harness.runtime.engagement.post_prompt(harness.adapter.poster, OTHER_CHANNEL)
    assert harness.connector.calls_to("create_conversation") == []
    await harness.runtime.engagement.post_prompt(harness.adapter.poster, TEAMS_CHANNEL_ID)
    assert [r["channel_id"] for r in harness.rows("SELECT channel_id FROM posts")] == [TEAMS_CHANNEL_ID]


async def test_summary_card_is_an_adaptive_card_thread(harness: Harness) -> None:
    await harness.send(teams_install_conversation_update(service_url=harness.url))
    card = Card(title="Weekly", facts=(("Posts", "1"),), sections=(("Top", "• a\n• b"),), footer="fine print")
    sent = await harness.adapter.poster.post_card(TEAMS_TEAM_ID, card)
    (created,) = harness.connector.calls_to("create_conversation")
    assert created["body"]["channelData"]["channel"]["id"] == TEAMS_TEAM_ID
    assert card_texts(adaptive_content(created["body"]["activity"])) == [
        "Weekly",
        "Top",
        "• a",
        "• b",
        "fine print",
        "Posts: 1",
    ]
    assert sent.message_id == "1732350000001"


# --------------------------------------------------------------------------------------------------------------------
# channel names for the report


async def test_the_install_stores_the_team_channels_names_and_general_for_the_unnamed_one(harness: Harness) -> None:
    assert await harness.send(teams_install_conversation_update(service_url=harness.url)) == 201
    rows = harness.rows("SELECT platform, channel_id, name FROM channels ORDER BY channel_id")
    assert rows == sorted(
        [
            {"platform": "teams", "channel_id": TEAMS_TEAM_ID, "name": "General"},  # listed with name null
            {"platform": "teams", "channel_id": TEAMS_CHANNEL_ID, "name": "Policy"},
        ],
        key=lambda r: r["channel_id"],
    )
    assert len(harness.connector.calls_to("get_team_channels")) == 1
    await harness.runtime.engagement.post_prompt(harness.adapter.poster, TEAMS_CHANNEL_ID)
    assert len(harness.connector.calls_to("get_team_channels")) == 1  # never per post or per event
