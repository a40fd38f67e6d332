"""The capture rules of SPEC §7, one by one, asserting on the rows an analyst would find in the database."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.capture import Capture, Outcome
from bot.events import (
    Platform,
    ReactionAdded,
    ReactionRemoved,
    ReplyDeleted,
    ReplyEdited,
    ReplyPosted,
    member_id,
    parse_member_id,
)
from bot.prompts import Prompt
from storage.repository import Repository

SLACK, TEAMS = Platform.SLACK, Platform.TEAMS
T = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
POST = "1795000000.000100"
TEAMS_CHANNEL = "19:abc@thread.tacv2"
TEAMS_POST = "1795000000123"


def minutes(n: float) -> datetime:
    return T + timedelta(minutes=n)


@pytest.fixture
def capture(repo: Repository) -> Capture:
    repo.record_post(SLACK, "C1", POST, Prompt("Workforce", "What would help?"), T)
    repo.record_post(TEAMS, TEAMS_CHANNEL, TEAMS_POST, Prompt("Prevention", "Where to start?"), T)
    return Capture(repo)


def rows(repo: Repository, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    cursor = repo.db.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def replies(repo: Repository) -> list[tuple[str, str, str, str, str | None]]:
    return [
        (r["message_id"], r["member_id"], r["text"], r["created_at"], r["edited_at"])
        for r in rows(repo, "SELECT * FROM replies ORDER BY message_id")
    ]


def counted_reactions(repo: Repository) -> list[tuple[str, str, str]]:
    return [
        (r["target_id"], r["member_id"], r["name"])
        for r in rows(
            repo,
            "SELECT * FROM reactions WHERE post_id IS NOT NULL AND removed_at IS NULL ORDER BY target_id, member_id",
        )
    ]


def reply(
    message: str,
    *,
    user: str = "U1",
    at: datetime = T,
    key: str | None = None,
    thread: str = POST,
    text: str = "hello",
    name: str | None = None,
) -> ReplyPosted:
    return ReplyPosted(
        platform=SLACK,
        channel_id="C1",
        occurred_at=at,
        event_key=key,
        thread_id=thread,
        message_id=message,
        user_id=user,
        text=text,
        display_name=name,
    )


def react(
    target: str, *, user: str = "U2", name: str = "+1", at: datetime = T, key: str | None = None
) -> ReactionAdded:
    return ReactionAdded(
        platform=SLACK, channel_id="C1", occurred_at=at, event_key=key, target_id=target, user_id=user, name=name
    )


def unreact(
    target: str, *, user: str = "U2", name: str = "+1", at: datetime = T, key: str | None = None
) -> ReactionRemoved:
    return ReactionRemoved(
        platform=SLACK, channel_id="C1", occurred_at=at, event_key=key, target_id=target, user_id=user, name=name
    )


# -- replies ------------------------------------------------------------------------------------------------------


def test_reply_in_a_post_thread_is_stored_with_its_payload_time(repo: Repository, capture: Capture) -> None:
    at = datetime(2026, 11, 24, 11, 30, 5, 100, tzinfo=UTC)
    assert capture.apply(reply("200.000001", at=at, key="Ev1", name="Ada")) is Outcome.STORED
    assert replies(repo) == [("200.000001", "slack:U1", "hello", "2026-11-24T11:30:05.000100+00:00", None)]
    assert rows(repo, "SELECT member_id, platform, user_id, display_name FROM members") == [
        {"member_id": "slack:U1", "platform": "slack", "user_id": "U1", "display_name": "Ada"}
    ]
    post_id = rows(repo, "SELECT id FROM posts WHERE message_id = ?", (POST,))[0]["id"]
    assert rows(repo, "SELECT post_id FROM replies") == [{"post_id": post_id}]


def test_teams_reply_is_stored_against_the_teams_post(repo: Repository, capture: Capture) -> None:
    event = ReplyPosted(
        platform=TEAMS,
        channel_id=TEAMS_CHANNEL,
        occurred_at=minutes(3),
        event_key="act-1",
        thread_id=TEAMS_POST,
        message_id="1795000000999",
        user_id="29:1abc",
        text="from teams",
    )
    assert capture.apply(event) is Outcome.STORED
    assert rows(repo, "SELECT platform, channel_id, member_id, text FROM replies") == [
        {"platform": "teams", "channel_id": TEAMS_CHANNEL, "member_id": "teams:29:1abc", "text": "from teams"}
    ]


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(reply("300.1", thread="999.000001"), id="thread-not-a-post"),
        pytest.param(reply(POST, thread=POST), id="the-post-itself"),
        pytest.param(
            ReplyPosted(
                platform=SLACK,
                channel_id="C2",
                occurred_at=T,
                thread_id=POST,
                message_id="300.2",
                user_id="U1",
                text="x",
            ),
            id="same-ts-other-channel",
        ),
        pytest.param(
            ReplyPosted(
                platform=TEAMS,
                channel_id="C1",
                occurred_at=T,
                thread_id=POST,
                message_id="300.3",
                user_id="29:x",
                text="x",
            ),
            id="same-ids-other-platform",
        ),
    ],
)
def test_messages_outside_prompt_threads_are_never_stored(
    repo: Repository, capture: Capture, event: ReplyPosted
) -> None:
    assert capture.apply(event) is Outcome.IGNORED
    assert replies(repo) == []
    assert rows(repo, "SELECT * FROM members") == []
    assert rows(repo, "SELECT * FROM seen_events") == []


def test_same_event_key_is_stored_once(repo: Repository, capture: Capture) -> None:
    assert capture.apply(reply("200.1", key="Ev1")) is Outcome.STORED
    assert capture.apply(reply("200.1", key="Ev1")) is Outcome.DUPLICATE
    assert len(replies(repo)) == 1
    assert rows(repo, "SELECT event_key, platform FROM seen_events") == [{"event_key": "Ev1", "platform": "slack"}]


def test_same_message_under_another_key_is_stored_once(repo: Repository, capture: Capture) -> None:
    assert capture.apply(reply("200.1", key="Ev1")) is Outcome.STORED
    assert capture.apply(reply("200.1", key="Ev2", text="again")) is Outcome.DUPLICATE
    assert replies(repo) == [("200.1", "slack:U1", "hello", "2026-11-24T10:00:00.000000+00:00", None)]


def test_edit_updates_text_and_keeps_edit_time(repo: Repository, capture: Capture) -> None:
    capture.apply(reply("200.1", text="first"))
    edit = ReplyEdited(platform=SLACK, channel_id="C1", occurred_at=minutes(5), message_id="200.1", text="second")
    assert capture.apply(edit) is Outcome.STORED
    assert replies(repo) == [
        ("200.1", "slack:U1", "second", "2026-11-24T10:00:00.000000+00:00", "2026-11-24T10:05:00.000000+00:00")
    ]


def test_older_edit_arriving_late_does_not_win(repo: Repository, capture: Capture) -> None:
    capture.apply(reply("200.1", text="first"))
    for when, text in ((10, "latest"), (5, "middle")):
        capture.apply(
            ReplyEdited(platform=SLACK, channel_id="C1", occurred_at=minutes(when), message_id="200.1", text=text)
        )
    assert replies(repo)[0][2] == "latest"


def test_edit_before_its_reply_stores_the_reply_as_edited(repo: Repository, capture: Capture) -> None:
    edit = ReplyEdited(
        platform=SLACK,
        channel_id="C1",
        occurred_at=minutes(5),
        message_id="200.1",
        text="edited",
        thread_id=POST,
        original_at=minutes(1),
        user_id="U1",
    )
    assert capture.apply(edit) is Outcome.STORED
    assert capture.apply(reply("200.1", at=minutes(1), text="original", key="late")) is Outcome.DUPLICATE
    assert replies(repo) == [
        ("200.1", "slack:U1", "edited", "2026-11-24T10:01:00.000000+00:00", "2026-11-24T10:05:00.000000+00:00")
    ]


def test_edit_of_an_unknown_message_without_its_thread_stores_nothing(repo: Repository, capture: Capture) -> None:
    edit = ReplyEdited(platform=SLACK, channel_id="C1", occurred_at=minutes(5), message_id="200.1", text="x")
    assert capture.apply(edit) is Outcome.IGNORED
    assert replies(repo) == []


def test_deletion_removes_the_reply_and_its_reactions(repo: Repository, capture: Capture) -> None:
    capture.apply(reply("200.1", text="to be deleted"))
    capture.apply(react("200.1", user="U2"))
    capture.apply(react(POST, user="U3"))
    assert len(counted_reactions(repo)) == 2
    deleted = ReplyDeleted(platform=SLACK, channel_id="C1", occurred_at=minutes(9), message_id="200.1")
    assert capture.apply(deleted) is Outcome.STORED
    assert replies(repo) == []
    assert rows(repo, "SELECT target_id FROM reactions") == [{"target_id": POST}]
    # the reply redelivered and a late reaction on it change nothing
    assert capture.apply(reply("200.1", key="retry")) is Outcome.IGNORED
    assert capture.apply(react("200.1", user="U4", at=minutes(1))) is Outcome.IGNORED
    assert replies(repo) == []
    assert counted_reactions(repo) == [(POST, "slack:U3", "+1")]


def test_deletion_before_its_reply_keeps_the_reply_out(repo: Repository, capture: Capture) -> None:
    deleted = ReplyDeleted(platform=SLACK, channel_id="C1", occurred_at=minutes(9), message_id="200.1", thread_id=POST)
    assert capture.apply(deleted) is Outcome.STORED
    assert capture.apply(reply("200.1")) is Outcome.IGNORED
    assert replies(repo) == []
    assert rows(repo, "SELECT message_id FROM deleted_messages") == [{"message_id": "200.1"}]


def test_deletion_in_a_thread_that_is_not_a_post_is_ignored(repo: Repository, capture: Capture) -> None:
    deleted = ReplyDeleted(platform=SLACK, channel_id="C1", occurred_at=T, message_id="200.1", thread_id="999.1")
    assert capture.apply(deleted) is Outcome.IGNORED
    assert rows(repo, "SELECT * FROM deleted_messages") == []


# -- reactions ----------------------------------------------------------------------------------------------------


def test_reaction_on_post_and_on_reply_count(repo: Repository, capture: Capture) -> None:
    capture.apply(reply("200.1"))
    assert capture.apply(react(POST, user="U2", name="tada")) is Outcome.STORED
    assert capture.apply(react("200.1", user="U3", name="+1")) is Outcome.STORED
    assert counted_reactions(repo) == [(POST, "slack:U2", "tada"), ("200.1", "slack:U3", "+1")]
    reply_row = rows(repo, "SELECT id, post_id FROM replies")[0]
    assert rows(repo, "SELECT post_id, reply_id FROM reactions WHERE target_id = '200.1'") == [
        {"post_id": reply_row["post_id"], "reply_id": reply_row["id"]}
    ]


def test_reaction_added_twice_counts_once(repo: Repository, capture: Capture) -> None:
    assert capture.apply(react(POST, key="r1")) is Outcome.STORED
    assert capture.apply(react(POST, key="r2")) is Outcome.IGNORED  # same payload, another delivery id
    assert capture.apply(react(POST, key="r1")) is Outcome.DUPLICATE
    assert counted_reactions(repo) == [(POST, "slack:U2", "+1")]
    assert len(rows(repo, "SELECT * FROM reactions")) == 1


def test_reaction_removed_stops_counting(repo: Repository, capture: Capture) -> None:
    capture.apply(react(POST, at=minutes(1)))
    assert capture.apply(unreact(POST, at=minutes(2))) is Outcome.STORED
    assert counted_reactions(repo) == []
    assert capture.apply(react(POST, at=minutes(3))) is Outcome.STORED  # added again later
    assert counted_reactions(repo) == [(POST, "slack:U2", "+1")]
    assert rows(repo, "SELECT created_at FROM reactions") == [{"created_at": "2026-11-24T10:03:00.000000+00:00"}]


def test_removal_arriving_before_its_add_wins_by_payload_time(repo: Repository, capture: Capture) -> None:
    capture.apply(unreact(POST, at=minutes(2)))
    assert capture.apply(react(POST, at=minutes(1))) is Outcome.IGNORED
    assert counted_reactions(repo) == []


def test_late_removal_after_a_re_add_is_ignored(repo: Repository, capture: Capture) -> None:
    capture.apply(react(POST, at=minutes(1), key="a1"))
    capture.apply(react(POST, at=minutes(3), key="a2"))
    capture.apply(unreact(POST, at=minutes(2), key="r1"))
    assert counted_reactions(repo) == [(POST, "slack:U2", "+1")]


def test_reaction_before_its_reply_counts_once_the_reply_arrives(repo: Repository, capture: Capture) -> None:
    capture.apply(react("200.1", user="U2", at=minutes(2)))
    assert counted_reactions(repo) == []  # kept unresolved, not counted
    assert rows(repo, "SELECT post_id FROM reactions") == [{"post_id": None}]
    capture.apply(reply("200.1", at=minutes(1)))
    assert counted_reactions(repo) == [("200.1", "slack:U2", "+1")]


def test_reaction_on_a_message_that_never_becomes_known_is_not_counted(repo: Repository, capture: Capture) -> None:
    capture.apply(react("555.5", user="U2"))
    capture.apply(reply("556.6", thread="999.9"))  # a thread that is not a post
    capture.apply(react("556.6", user="U3"))
    assert counted_reactions(repo) == []
    assert repo.purge_unresolved_reactions(T + timedelta(days=1), after=0, limit=100).changed == 2
    assert repo.drop_orphan_members() == 2  # U2 and U3, whose only trace were those reactions
    assert rows(repo, "SELECT * FROM reactions") == []
    assert rows(repo, "SELECT * FROM members") == []


def test_teams_reaction_types_are_stored_as_given(repo: Repository, capture: Capture) -> None:
    event = ReactionAdded(
        platform=TEAMS,
        channel_id=TEAMS_CHANNEL,
        occurred_at=T,
        event_key="act-9",
        target_id=TEAMS_POST,
        user_id="29:1abc",
        name="heart",
    )
    assert capture.apply(event) is Outcome.STORED
    assert rows(repo, "SELECT platform, member_id, name FROM reactions") == [
        {"platform": "teams", "member_id": "teams:29:1abc", "name": "heart"}
    ]


# -- opt-out --------------------------------------------------------------------------------------------------------


def test_opt_out_erases_everything_of_the_member(repo: Repository, capture: Capture) -> None:
    capture.apply(reply("200.1", user="U1", text="mine"))
    capture.apply(reply("200.2", user="U2", text="theirs"))
    capture.apply(react(POST, user="U1"))
    capture.apply(react("200.2", user="U1"))
    capture.apply(react("200.1", user="U2"))  # someone else's reaction on U1's reply goes with the reply
    capture.apply(react("999.9", user="U1"))  # unresolved, still U1's
    counts = repo.opt_out("slack:U1", minutes(30), requested_by="slack:U1", reason="optout")
    assert (counts.replies, counts.reactions, counts.members) == (1, 3, 1)
    assert [r[0] for r in replies(repo)] == ["200.2"]
    assert rows(repo, "SELECT member_id FROM reactions") == []
    assert rows(repo, "SELECT member_id FROM members") == [{"member_id": "slack:U2"}]
    assert rows(repo, "SELECT member_id FROM optouts") == [{"member_id": "slack:U1"}]
    assert rows(repo, "SELECT member_id, replies, reactions FROM erasures") == [
        {"member_id": "slack:U1", "replies": 1, "reactions": 3}
    ]


def test_opted_out_member_is_blocked_until_opt_in(repo: Repository, capture: Capture) -> None:
    repo.opt_out("slack:U1", T, requested_by="slack:U1", reason="optout")
    assert capture.apply(reply("200.1", user="U1", key="k1")) is Outcome.OPTED_OUT
    assert capture.apply(react(POST, user="U1", key="k2")) is Outcome.OPTED_OUT
    assert replies(repo) == []
    assert rows(repo, "SELECT * FROM reactions") == []
    assert rows(repo, "SELECT * FROM members") == []
    assert repo.opt_in("slack:U1", minutes(1)) is True
    # What the member wrote before opting in stays out (SPEC §9: nothing from before the latest optin is stored).
    assert capture.apply(reply("200.2", user="U1", key="k2b", at=minutes(0.5))) is Outcome.BEFORE_OPT_IN
    assert capture.apply(reply("200.3", user="U1", key="k3", at=minutes(2))) is Outcome.STORED
    assert [r[0] for r in replies(repo)] == ["200.3"]


def test_edit_of_an_opted_out_members_reply_before_erasure_is_blocked(repo: Repository, capture: Capture) -> None:
    repo.opt_out("slack:U1", T, requested_by="cli", reason="forget")
    edit = ReplyEdited(
        platform=SLACK,
        channel_id="C1",
        occurred_at=minutes(5),
        message_id="200.1",
        text="edited",
        thread_id=POST,
        original_at=minutes(1),
        user_id="U1",
    )
    assert capture.apply(edit) is Outcome.OPTED_OUT
    assert replies(repo) == []


# -- durability and identities --------------------------------------------------------------------------------------


def test_event_and_its_seen_mark_are_committed_when_apply_returns(repo: Repository, capture: Capture) -> None:
    capture.apply(reply("200.1", key="Ev1"))
    other = sqlite3.connect(repo.path)
    try:
        assert other.execute("SELECT message_id FROM replies").fetchall() == [("200.1",)]
        assert other.execute("SELECT event_key FROM seen_events").fetchall() == [("Ev1",)]
    finally:
        other.close()


def test_a_failing_event_leaves_no_half_written_rows(repo: Repository, capture: Capture) -> None:
    bad = reply("200.1", key="Ev1")
    object.__setattr__(bad, "occurred_at", datetime(2026, 1, 1))  # naive: storage refuses it
    with pytest.raises(ValueError, match="naive"):
        capture.apply(bad)
    assert replies(repo) == []
    assert rows(repo, "SELECT * FROM members") == []
    assert rows(repo, "SELECT * FROM seen_events") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [("slack:U123", (SLACK, "U123")), ("teams:29:1abc", (TEAMS, "29:1abc"))],
)
def test_member_ids_round_trip(text: str, expected: tuple[Platform, str]) -> None:
    assert parse_member_id(text) == expected
    assert member_id(*expected) == text


@pytest.mark.parametrize("text", ["U123", "slack:", "irc:U1", "slack:  ", ""])
def test_bad_member_ids_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a member id"):
        parse_member_id(text)
