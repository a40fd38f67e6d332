"""Data protection (SPEC §7, §9) on both platforms at once, with several members, channels and themes: erasure
without trace in the database files, an opt-in that never brings back the past (whatever path the past arrives by),
quote consent as the member's last word, nothing stored of people who never took part, retention, anonymity in
channel summaries, subject access, opt-in consent and the privacy notice."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.maintenance import UNRESOLVED_REACTION_DAYS, run_maintenance
from adapters.runtime import Runtime
from bot.commands import CommandContext
from bot.config import load_settings
from bot.events import Platform, ReactionAdded, ReplyPosted
from bot.timeutil import IsoWeek, to_db
from tests.fakes import (
    TEAMS_CHANNEL_ID,
    FakeSlackAPI,
    slack_message_changed,
    slack_message_deleted,
    slack_reaction_added,
    slack_reaction_removed,
    slack_thread_reply,
    teams_channel_reply,
    teams_message_reaction,
    teams_soft_delete,
)
from tests.privacy_support import SLACK_A, SLACK_B, Community, community, file_bytes, now, slack_ts
from tests.teams.harness import OTHER_CHANNEL

TEAMS = TEAMS_CHANNEL_ID


@pytest.fixture
async def members(tmp_path: Path) -> AsyncIterator[Community]:
    async with community(tmp_path) as c:
        yield c


def ts_in(c: Community, channel: str, minutes: float) -> str:
    """The ts of a message ``minutes`` after the channel's prompt (posted two hours ago)."""
    return slack_ts(c.posts[channel].posted_at + timedelta(minutes=minutes))


async def slack_reply(c: Community, channel: str, user: str, text: str, ts: str) -> None:
    await c.slack(slack_thread_reply(text, thread_ts=c.posts[channel].message_id, channel=channel, ts=ts, user=user))


async def slack_react(
    c: Community, channel: str, user: str, target: str, name: str, at: datetime, *, author: str = "UBOT"
) -> None:
    await c.slack(
        slack_reaction_added(name, ts=target, channel=channel, user=user, item_user=author, event_ts=slack_ts(at))
    )


async def teams_reply(c: Community, user: str, name: str, text: str, at: datetime, message_id: str) -> None:
    root = c.posts[TEAMS].message_id
    await c.teams(
        teams_channel_reply(
            text, root_id=root, service_url=c.connector.url, activity_id=message_id, user_id=user, user_name=name,
            timestamp=at,
        )
    )  # fmt: skip


async def teams_react(c: Community, user: str, target: str, name: str, at: datetime, **extra: Any) -> None:
    await c.teams(
        teams_message_reaction(
            name, reply_to_id=target, root_id=extra.pop("root_id", c.posts[TEAMS].message_id),
            service_url=c.connector.url, user_id=user, user_name=extra.pop("user_name", "Someone"), timestamp=at,
            **extra,
        )
    )  # fmt: skip


def weeks_of_the_test(c: Community) -> tuple[IsoWeek, IsoWeek]:
    tz = c.runtime.settings.timezone
    first = min(p.posted_at for p in c.posts.values()) - timedelta(hours=1)
    return IsoWeek.containing(first, tz), IsoWeek.containing(now() + timedelta(hours=1), tz)


def quoted(c: Community) -> list[str]:
    """Every reply quoted in the weekly summaries of the test's weeks (channel cards included)."""
    first, last = weeks_of_the_test(c)
    texts: list[str] = []
    for week in {first, last}:
        summary = c.runtime.engagement.summary(week)
        week_quotes = [t for theme in c.runtime.engagement.quotes(summary).values() for t in theme]
        card = json.dumps(c.runtime.engagement.summary_card(summary, public=True).sections)
        for text in week_quotes:
            assert text in card  # the card posted to channels quotes the same
        texts += week_quotes
    return sorted(texts)


def export_consent(c: Community) -> dict[str, str]:
    """member -> the export's quote_consent of their replies (one value per member, or the test fails)."""
    first, last = weeks_of_the_test(c)
    found: dict[str, set[str]] = {}
    for row in c.runtime.engagement.export_rows(first, last, replies_only=True):
        found.setdefault(row["member"], set()).add(row["quote_consent"])
    assert all(len(v) == 1 for v in found.values()), found
    return {m: v.pop() for m, v in found.items()}


# -- erasure ---------------------------------------------------------------------------------------------------------


async def test_optout_erases_everything_of_the_member_on_both_platforms(members: Community) -> None:
    c = members
    c.fake.display_names.update({"USGONE": "Slack-Gone-NAME", "USKEEP": "Slack-Keep-NAME", "USFAN": "Slack-Fan-NAME"})
    gone_a, gone_b = ts_in(c, SLACK_A, 5), ts_in(c, SLACK_B, 6)
    await slack_reply(c, SLACK_A, "USGONE", "SLACK-GONE-A-7731", gone_a)
    await slack_reply(c, SLACK_B, "USGONE", "SLACK-GONE-B-7732", gone_b)
    await c.slack(
        slack_message_changed(
            ts=gone_a, new_text="SLACK-GONE-EDITED-9182", thread_ts=c.posts[SLACK_A].message_id, channel=SLACK_A,
            user="USGONE", edit_ts=ts_in(c, SLACK_A, 7),
        )
    )  # fmt: skip
    await slack_react(c, SLACK_A, "USGONE", c.posts[SLACK_A].message_id, "tada", c.posts[SLACK_A].posted_at)
    await slack_reply(c, SLACK_A, "USKEEP", "slack text that stays", ts_in(c, SLACK_A, 8))
    await slack_react(c, SLACK_A, "USKEEP", gone_a, "+1", c.posts[SLACK_A].posted_at + timedelta(minutes=9))
    await slack_react(c, SLACK_B, "USFAN", gone_b, "+1", c.posts[SLACK_B].posted_at + timedelta(minutes=9))
    written = now() - timedelta(minutes=30)
    await teams_reply(c, "29:1gone", "Teams-Gone-NAME", "TEAMS-GONE-4410", written, "1900000000001")
    await teams_react(c, "29:1gone", c.posts[TEAMS].message_id, "heart", written, user_name="Teams-Gone-NAME")
    await teams_reply(c, "29:1keep", "Teams-Keep-NAME", "teams text that stays", written, "1900000000002")
    await teams_react(
        c, "29:1keep", "1900000000001", "like", written + timedelta(seconds=5), user_name="Teams-Keep-NAME"
    )
    assert c.runtime.slack is not None
    await c.runtime.slack.wait_idle()  # the display names fetched
    gone_markers = [
        b"SLACK-GONE-A-7731",  # the original text of the edited reply
        b"SLACK-GONE-EDITED-9182",
        b"SLACK-GONE-B-7732",
        b"TEAMS-GONE-4410",
        b"Slack-Gone-NAME",
        b"Slack-Fan-NAME",  # reacted only to an erased reply: nothing of theirs is left either
        b"Teams-Gone-NAME",
    ]
    before = c.file_bytes()
    assert all(marker in before for marker in gone_markers[1:])  # the scan finds what is there

    assert "Erased 2 replies and 1 reaction" in await c.slack_command("optout", "USGONE")
    assert "Erased 1 reply and 1 reaction" in await c.teams_command("optout", "29:1gone", "Teams-Gone-NAME")

    data = c.file_bytes()  # the database is still open: its -wal file is on disk
    for marker in [*gone_markers, gone_a.encode(), gone_b.encode()]:
        assert marker not in data, marker
    for kept in (b"slack text that stays", b"teams text that stays", b"Slack-Keep-NAME", b"Teams-Keep-NAME"):
        assert kept in data
    assert c.rows("SELECT member_id, text FROM replies ORDER BY member_id") == [
        ("slack:USKEEP", "slack text that stays"),
        ("teams:29:1keep", "teams text that stays"),
    ]
    assert c.rows("SELECT count(*) FROM reactions") == [(0,)]  # their own, and everyone's on their replies
    assert c.rows("SELECT member_id FROM members ORDER BY 1") == [("slack:USKEEP",), ("teams:29:1keep",)]
    assert c.rows("SELECT member_id, requested_by, reason, replies, reactions FROM erasures ORDER BY id") == [
        ("slack:USGONE", "slack:USGONE", "optout", 2, 1),
        ("teams:29:1gone", "teams:29:1gone", "optout", 1, 1),
    ]
    assert c.rows("SELECT count(*) FROM pending_scrubs") == [(0,)]

    # Opted out: what they do next is not stored, on either platform.
    await slack_reply(c, SLACK_A, "USGONE", "after optout", slack_ts(now() + timedelta(seconds=1)))
    await teams_reply(c, "29:1gone", "Teams-Gone-NAME", "after optout", now(), "1900000000003")
    assert c.rows("SELECT count(*) FROM replies") == [(2,)]
    assert b"after optout" not in c.file_bytes()


async def test_a_reaction_to_an_erased_reply_leaves_no_id_of_its_author_even_without_an_activity_id(
    members: Community,
) -> None:
    """Teams may send a reaction without an activity id: its dedupe key must not carry the member's id in clear, or
    ``seen_events`` would keep it after the member's every row has gone."""
    c = members
    written = now() - timedelta(minutes=30)
    await teams_reply(c, "29:1author", "Author", "a reply that goes", written, "1900000000601")
    reaction = teams_message_reaction(
        "like", reply_to_id="1900000000601", root_id=c.posts[TEAMS].message_id, service_url=c.connector.url,
        user_id="29:1fan-IDLESS", user_name="Someone", timestamp=written + timedelta(seconds=5),
    )  # fmt: skip
    del reaction["id"]
    await c.teams(reaction)
    await c.teams(reaction)  # redelivered: the same delivery, stored once
    slack_author = ts_in(c, SLACK_A, 5)
    await slack_reply(c, SLACK_A, "USAUTHOR", "a slack reply that goes", slack_author)
    await slack_react(c, SLACK_A, "USFANOFIT", slack_author, "+1", c.posts[SLACK_A].posted_at + timedelta(minutes=6))
    assert c.rows("SELECT member_id, name FROM reactions ORDER BY 1") == [
        ("slack:USFANOFIT", "+1"),
        ("teams:29:1fan-IDLESS", "like"),
    ]
    before = c.file_bytes()
    assert b"1fan-IDLESS" in before  # the scan finds what is there
    assert b"USFANOFIT" in before
    assert len(c.rows("SELECT event_key FROM seen_events WHERE event_key LIKE 'teams:reaction:%'")) == 1

    await c.teams_command("optout", "29:1author", "Author")
    await c.slack_command("optout", "USAUTHOR")

    assert c.rows("SELECT count(*) FROM reactions") == [(0,)]
    assert c.rows("SELECT count(*) FROM members") == [(0,)]
    data = c.file_bytes()
    for fan in (b"1fan-IDLESS", b"USFANOFIT"):  # they never opted out, and nothing of theirs is left
        assert fan not in data, fan


# -- an opt-in never brings back the past (item 5) ------------------------------------------------------------------


async def test_an_opt_in_brings_back_nothing_from_before_it_by_any_path(members: Community) -> None:
    c = members
    post_a, post_b = c.posts[SLACK_A].message_id, c.posts[SLACK_B].message_id
    r1, r1_b = ts_in(c, SLACK_A, 10), ts_in(c, SLACK_B, 10)
    await slack_reply(c, SLACK_A, "USBACK", "SLACK-BEFORE-OPTOUT-R1", r1)
    await slack_reply(c, SLACK_B, "USOTHER", "another member's reply", r1_b)
    await slack_react(c, SLACK_A, "USBACK", post_a, "tada", c.posts[SLACK_A].posted_at + timedelta(minutes=11))
    await teams_reply(c, "29:1back", "Back", "TEAMS-BEFORE-OPTOUT-T1", now() - timedelta(minutes=5), "1900000000101")
    await teams_reply(c, "29:1other", "Other", "another teams reply", now() - timedelta(minutes=5), "1900000000102")

    await c.slack_command("optout", "USBACK")
    await c.teams_command("optout", "29:1back", "Back")
    r2 = slack_ts(now())  # written while opted out: Slack has it, engagebot must never store it
    await slack_reply(c, SLACK_A, "USBACK", "SLACK-WHILE-OUT-R2", r2)
    while_out = teams_channel_reply(
        "TEAMS-WHILE-OUT-T2", root_id=c.posts[TEAMS].message_id, service_url=c.connector.url,
        activity_id="1900000000103", user_id="29:1back", user_name="Back", timestamp=now(),
    )  # fmt: skip
    await c.teams(while_out)
    opted_in = now()
    assert "You have opted in" in await c.slack_command("optin", "USBACK")
    assert "You have opted in" in await c.teams_command("optin", "29:1back", "Back")

    # Every path by which the past could come back, on Slack:
    await slack_reply(c, SLACK_A, "USBACK", "SLACK-BEFORE-OPTOUT-R1", r1)  # a second delivery (new event id)
    await slack_reply(c, SLACK_A, "USBACK", "SLACK-WHILE-OUT-R2", r2)  # delivered late
    await c.slack(
        slack_message_changed(
            ts=r1, new_text="SLACK-OLD-EDITED-AFTER-OPTIN", thread_ts=post_a, channel=SLACK_A, user="USBACK",
            edit_ts=slack_ts(now() + timedelta(seconds=1)),
        )
    )  # an old message edited after the opt-in is still an old message  # fmt: skip
    await slack_react(c, SLACK_A, "USBACK", post_a, "eyes", opted_in - timedelta(seconds=30))  # an old reaction
    await slack_react(
        c, SLACK_A, "USBACK", r1, "+1", now() + timedelta(seconds=2), author="USBACK"
    )  # to their old reply
    await c.reconcile()  # Slack still shows R1 (edited), R2 and the reactions
    # ... and on Teams:
    await c.teams(while_out)  # redelivered
    await teams_react(c, "29:1back", c.posts[TEAMS].message_id, "like", opted_in - timedelta(seconds=30))

    assert c.rows("SELECT member_id FROM replies WHERE member_id LIKE '%back' ORDER BY 1") == []
    assert c.rows("SELECT member_id FROM reactions WHERE member_id LIKE '%back'") == []
    assert c.rows("SELECT member_id FROM members WHERE member_id LIKE '%back'") == []
    data = c.file_bytes()
    for marker in (b"SLACK-BEFORE-OPTOUT-R1", b"SLACK-WHILE-OUT-R2", b"SLACK-OLD-EDITED", b"TEAMS-WHILE-OUT-T2"):
        assert marker not in data, marker
    assert r1.encode() not in data
    assert r2.encode() not in data

    # What they do after the opt-in is captured again, and the other members' data was never touched.
    await slack_reply(c, SLACK_A, "USBACK", "slack after optin", slack_ts(now() + timedelta(seconds=3)))
    await slack_react(c, SLACK_B, "USBACK", post_b, "clap", now() + timedelta(seconds=4))
    await teams_reply(c, "29:1back", "Back", "teams after optin", now() + timedelta(seconds=3), "1900000000104")
    await c.reconcile()
    assert c.rows("SELECT member_id, text FROM replies ORDER BY created_at, member_id")[-2:] == [
        ("slack:USBACK", "slack after optin"),
        ("teams:29:1back", "teams after optin"),
    ]
    assert c.rows("SELECT member_id, name FROM reactions WHERE member_id LIKE '%back'") == [("slack:USBACK", "clap")]
    assert {r[0] for r in c.rows("SELECT text FROM replies")} == {
        "another member's reply",
        "another teams reply",
        "slack after optin",
        "teams after optin",
    }
    watermarks = dict(c.rows("SELECT member_id, not_before FROM member_watermarks"))
    assert set(watermarks) == {"slack:USBACK", "teams:29:1back"}
    assert all(mark >= to_db(opted_in) for mark in watermarks.values())


async def test_opt_in_mode_stores_nothing_from_before_consent(tmp_path: Path) -> None:
    async with community(tmp_path, 'consent = "opt-in"\n') as c:
        early = ts_in(c, SLACK_A, 3)
        await slack_reply(c, SLACK_A, "USNEW", "SLACK-BEFORE-CONSENT", early)
        await slack_react(c, SLACK_A, "USNEW", c.posts[SLACK_A].message_id, "+1", now())
        before_consent = teams_channel_reply(
            "TEAMS-BEFORE-CONSENT", root_id=c.posts[TEAMS].message_id, service_url=c.connector.url,
            activity_id="1900000000201", user_id="29:1new", user_name="New", timestamp=now(),
        )  # fmt: skip
        await c.teams(before_consent)
        assert c.rows("SELECT count(*) FROM replies") + c.rows("SELECT count(*) FROM reactions") == [(0,), (0,)]
        assert c.rows("SELECT count(*) FROM members") == [(0,)]
        privacy = await c.slack_command("privacy", "USNEW")
        assert "Nothing is captured until you say `optin`" in privacy

        await c.slack_command("optin", "USNEW")
        await c.teams_command("optin", "29:1new", "New")
        await c.reconcile()  # Slack shows the reply and the reaction from before the consent
        await c.teams(before_consent)  # Teams delivers it again
        await slack_reply(c, SLACK_A, "USNEW", "slack after consent", slack_ts(now() + timedelta(seconds=1)))
        await teams_reply(c, "29:1new", "New", "teams after consent", now() + timedelta(seconds=1), "1900000000202")

        assert c.rows("SELECT member_id, text FROM replies ORDER BY member_id") == [
            ("slack:USNEW", "slack after consent"),
            ("teams:29:1new", "teams after consent"),
        ]
        assert c.rows("SELECT count(*) FROM reactions") == [(0,)]
        data = c.file_bytes()
        assert b"SLACK-BEFORE-CONSENT" not in data
        assert b"TEAMS-BEFORE-CONSENT" not in data


# -- quote consent is the member's last word (item 6) ----------------------------------------------------------------


async def test_quote_consent_is_the_members_last_word(members: Community) -> None:
    c = members
    post_a, post_b = c.posts[SLACK_A].message_id, c.posts[SLACK_B].message_id
    start = c.posts[SLACK_A].posted_at
    await slack_reply(c, SLACK_A, "UEMOJI", "quote by emoji", ts_in(c, SLACK_A, 5))
    await slack_reply(c, SLACK_B, "UCMD", "quote by command", ts_in(c, SLACK_B, 5))
    await slack_reply(c, SLACK_A, "UNEVER", "NEVER-QUOTED", ts_in(c, SLACK_A, 6))
    await teams_reply(c, "29:1quote", "Quote", "teams quote", now() - timedelta(minutes=1), "1900000000301")
    await slack_react(c, SLACK_A, "UEMOJI", post_a, "speech_balloon", start + timedelta(minutes=20))
    await c.slack_command("quote ok", "UCMD")
    await c.teams_command("quote ok", "29:1quote", "Quote")
    assert quoted(c) == ["quote by command", "quote by emoji", "teams quote"]
    assert export_consent(c) == {
        "slack:UEMOJI": "yes",
        "slack:UCMD": "yes",
        "slack:UNEVER": "no",
        "teams:29:1quote": "yes",
    }
    # The emoji is recorded as consent, with the reaction's time.
    assert c.rows("SELECT given_at FROM consents WHERE member_id = 'slack:UEMOJI' AND kind = 'quote'") == [
        (to_db(start + timedelta(minutes=20)),)
    ]

    # `quote off` wins over the emoji still in place, on every platform.
    await c.slack_command("quote off", "UEMOJI")
    await c.slack_command("quote off", "UCMD")
    await c.teams_command("quote off", "29:1quote", "Quote")
    assert quoted(c) == []
    assert set(export_consent(c).values()) == {"no"}
    # An older emoji arriving late (a retry, another message, reconciliation) does not give consent again.
    await slack_react(c, SLACK_B, "UEMOJI", post_b, "speech_balloon", start + timedelta(minutes=30))
    await slack_react(c, SLACK_B, "UCMD", post_b, "speech_balloon", start + timedelta(minutes=31))
    await c.reconcile()
    assert quoted(c) == []
    assert set(export_consent(c).values()) == {"no"}

    # A newer emoji is a new word: yes again; removing it while another emoji stays keeps the yes ...
    await slack_react(c, SLACK_A, "UEMOJI", ts_in(c, SLACK_A, 6), "speech_balloon", now() + timedelta(seconds=1))
    assert quoted(c) == ["quote by emoji"]
    removed_at = slack_ts(now() + timedelta(seconds=2))
    await c.slack(
        slack_reaction_removed("speech_balloon", ts=post_b, channel=SLACK_B, user="UEMOJI", event_ts=removed_at)
    )
    assert export_consent(c)["slack:UEMOJI"] == "yes"
    # ... removing the last one says no.
    for target, channel in ((post_a, SLACK_A), (ts_in(c, SLACK_A, 6), SLACK_A)):
        at = slack_ts(now() + timedelta(seconds=3))
        await c.slack(slack_reaction_removed("speech_balloon", ts=target, channel=channel, user="UEMOJI", event_ts=at))
    assert quoted(c) == []
    assert export_consent(c)["slack:UEMOJI"] == "no"
    assert "What you said last counts" in await c.slack_command("privacy", "UEMOJI")


# -- nothing of people who never took part (item 10) -----------------------------------------------------------------


async def test_reactions_that_can_never_count_store_nothing(members: Community) -> None:
    c = members
    moment = now()
    await slack_react(c, "C0NOPROMPT", "USTRANGER", slack_ts(moment), "+1", moment)  # a channel without prompts
    older = slack_ts(c.posts[SLACK_A].posted_at - timedelta(days=1))
    await slack_react(c, SLACK_A, "USOLDMSG", older, "+1", moment)  # a message older than the channel's first prompt
    await c.slack_command("optout", "USOUT")
    await slack_react(c, SLACK_A, "USFANOUT", ts_in(c, SLACK_A, 30), "+1", moment, author="USOUT")  # never stored
    await teams_react(
        c, "29:1stranger", "1900000000401", "like", moment, root_id="1900000000401", channel_id=OTHER_CHANNEL,
        team_id="19:another-team@thread.tacv2",
    )  # another team's channel, never prompted  # fmt: skip
    for stranger in ("USTRANGER", "USOLDMSG", "USFANOUT", "29:1stranger"):
        assert stranger.encode() not in c.file_bytes(), stranger
    assert c.rows("SELECT count(*) FROM reactions") == [(0,)]
    assert c.rows("SELECT count(*) FROM members") == [(0,)]

    # A reaction that may still count (its reply has not arrived yet) is kept, and counts once the reply comes.
    late = ts_in(c, SLACK_A, 40)
    await slack_react(c, SLACK_A, "USEARLY", late, "+1", now(), author="USLATE")
    await teams_react(c, "29:1early", "1900000000402", "like", now())
    assert c.rows("SELECT member_id, post_id IS NULL FROM reactions ORDER BY 1") == [
        ("slack:USEARLY", 1),
        ("teams:29:1early", 1),
    ]
    await slack_reply(c, SLACK_A, "USLATE", "arrived late", late)
    await teams_reply(c, "29:1late", "Late", "arrived late too", now(), "1900000000402")
    assert c.rows("SELECT member_id, post_id IS NULL FROM reactions ORDER BY 1") == [
        ("slack:USEARLY", 0),
        ("teams:29:1early", 0),
    ]


async def test_member_rows_go_with_their_last_reply_or_reaction(members: Community) -> None:
    c = members
    c.fake.display_names.update({"USDEL": "Slack-Del-NAME", "USUNDO": "Slack-Undo-NAME", "USSTAY": "Slack-Stay"})
    deleted = ts_in(c, SLACK_B, 5)
    await slack_reply(c, SLACK_B, "USDEL", "deleted soon", deleted)
    await slack_reply(c, SLACK_A, "USSTAY", "stays", ts_in(c, SLACK_A, 5))
    await slack_react(c, SLACK_B, "USUNDO", c.posts[SLACK_B].message_id, "+1", now())
    await teams_reply(c, "29:1del", "Teams-Del-NAME", "deleted soon too", now(), "1900000000501")
    assert c.runtime.slack is not None
    await c.runtime.slack.wait_idle()
    assert {r[0] for r in c.rows("SELECT member_id FROM members")} == {
        "slack:USDEL",
        "slack:USSTAY",
        "slack:USUNDO",
        "teams:29:1del",
    }

    await c.slack(
        slack_message_deleted(
            deleted_ts=deleted, thread_ts=c.posts[SLACK_B].message_id, channel=SLACK_B,
            event_ts=slack_ts(now()),
        )
    )  # fmt: skip
    await c.teams(
        teams_soft_delete(
            message_id="1900000000501", root_id=c.posts[TEAMS].message_id, service_url=c.connector.url,
            user_id="29:1del",
        )
    )  # fmt: skip
    removed = slack_ts(now() + timedelta(seconds=1))
    await c.slack(
        slack_reaction_removed("+1", ts=c.posts[SLACK_B].message_id, channel=SLACK_B, user="USUNDO", event_ts=removed)
    )
    assert {r[0] for r in c.rows("SELECT member_id FROM members")} == {"slack:USSTAY", "slack:USUNDO"}
    result = await run_maintenance(c.runtime, now() + timedelta(days=UNRESOLVED_REACTION_DAYS + 1))
    assert result.reactions_dropped == 1  # the removed reaction, once old
    assert c.rows("SELECT member_id FROM members") == [("slack:USSTAY",)]
    data = c.file_bytes()
    for gone in (b"Slack-Del-NAME", b"Teams-Del-NAME", b"Slack-Undo-NAME", b"deleted soon"):
        assert gone not in data, gone
    assert b"Slack-Stay" in data


# -- retention, anonymity, subject access, the notice ----------------------------------------------------------------

POST_TS = "1795514400.000100"  # Tue 24 Nov 2026 10:00 UTC (week 2026-W48)
POSTED = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
WEEK = IsoWeek(2026, 48)


@pytest.fixture
async def slack_fake() -> AsyncIterator[tuple[FakeSlackAPI, str]]:
    fake = FakeSlackAPI(ts_queue=[POST_TS])
    async with fake.serve() as server:
        yield fake, str(server.make_url("/api/"))


def make_runtime(tmp_path: Path, api_url: str, config: str = "") -> Runtime:
    (tmp_path / "engagebot.toml").write_text(config)
    env = {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": "privacy-secret",
        "SLACK_API_URL": api_url,
        "ENGAGEBOT_DB": str(tmp_path / "engagement.db"),
        "ENGAGEBOT_ADMINS": "slack:UADMIN",
    }
    return Runtime.build(load_settings(env, cwd=tmp_path), with_teams=False)


async def post_prompt(runtime: Runtime) -> str:
    assert runtime.slack is not None
    post = await runtime.engagement.post_prompt(runtime.slack.poster, "CPROMPT")
    return post.message_id


def reply(user: str, text: str, minutes: int) -> ReplyPosted:
    return ReplyPosted(
        platform=Platform.SLACK,
        channel_id="CPROMPT",
        occurred_at=POSTED + timedelta(minutes=minutes),
        event_key=f"Ev{user}{minutes}",
        thread_id=POST_TS,
        message_id=f"{int(POSTED.timestamp()) + minutes * 60}.{minutes:06d}",
        user_id=user,
        text=text,
        display_name=f"Name-{user}-MARK",
    )


def react(user: str, target: str, name: str, minutes: int) -> ReactionAdded:
    return ReactionAdded(
        platform=Platform.SLACK,
        channel_id="CPROMPT",
        occurred_at=POSTED + timedelta(minutes=minutes),
        event_key=f"EvR{user}{target}{name}",
        target_id=target,
        user_id=user,
        name=name,
    )


async def test_retention_purge_removes_old_text_and_keeps_every_figure(tmp_path, slack_fake):
    _, url = slack_fake
    runtime = make_runtime(tmp_path, url, "retention_days = 30\n")
    await post_prompt(runtime)
    for index, user in enumerate(("UA", "UB", "UC")):
        runtime.capture.apply(reply(user, f"OLD-TEXT-{user}-5521", 10 + index))
        runtime.capture.apply(react(user, POST_TS, "+1", 20 + index))
    before = [runtime.engagement.summary(w).as_json() for w in (WEEK, WEEK.previous())]
    result = await run_maintenance(runtime, POSTED + timedelta(days=31))
    assert result.texts_removed == 3
    after = [runtime.engagement.summary(w).as_json() for w in (WEEK, WEEK.previous())]
    assert after == before
    assert runtime.repo.db.execute("SELECT count(*), group_concat(text, '') FROM replies").fetchone() == (3, "")
    assert b"OLD-TEXT-" not in file_bytes(tmp_path / "engagement.db")
    # Text younger than the retention period stays.
    runtime.capture.apply(reply("UD", "recent", 60 * 24 * 40))
    assert (await run_maintenance(runtime, POSTED + timedelta(days=41))).texts_removed == 0
    runtime.close()


async def test_channel_summary_withholds_small_groups_but_the_admin_card_is_exact(tmp_path, slack_fake):
    fake, url = slack_fake
    runtime = make_runtime(tmp_path, url)
    await post_prompt(runtime)
    runtime.capture.apply(reply("UA", "one", 5))
    runtime.capture.apply(reply("UB", "two", 6))
    summary = runtime.engagement.summary(WEEK)
    public = runtime.engagement.summary_card(summary, public=True)
    private = runtime.engagement.summary_card(summary)
    public_text = json.dumps([public.facts, public.sections])
    assert "fewer than 3 people" in public_text
    assert "2 (" not in dict(public.facts).get("Participants", "")
    assert "Name-" not in public_text
    assert dict(private.facts)["Participants"].startswith("2 (+2)")
    assert "2 replies" in json.dumps(private.sections)
    # The scheduled post to a summary channel is the public card.
    assert runtime.slack is not None
    await runtime.slack.poster.post_card("CADMIN", public)
    sent = json.dumps(fake.calls_to("chat.postMessage")[-1]["args"])
    assert "fewer than 3 people" in sent
    runtime.close()


async def test_quotes_come_only_from_consenting_members_by_the_documented_rule(tmp_path, slack_fake):
    _, url = slack_fake
    runtime = make_runtime(tmp_path, url)
    await post_prompt(runtime)
    commands = runtime.commands
    await commands.handle(CommandContext(Platform.SLACK, "UOK", "CPROMPT"), "quote ok")
    a1, a2 = reply("UOK", "quote A early", 5), reply("UOK", "quote A late", 9)
    b1 = reply("UEMOJI", "quote B by emoji", 6)
    c1 = reply("UNO", "NEVER-QUOTED", 7)
    d1 = reply("UOK", "quote A popular", 11)
    for event in (a1, a2, b1, c1, d1):
        runtime.capture.apply(event)
    runtime.capture.apply(react("UEMOJI", POST_TS, "speech_balloon", 12))  # consent by the configured emoji
    for user in ("UX", "UY"):
        runtime.capture.apply(react(user, d1.message_id, "+1", 13))
        runtime.capture.apply(react(user, c1.message_id, "+1", 14))
    runtime.capture.apply(react("UX", a2.message_id, "+1", 15))
    quotes = runtime.engagement.quotes(runtime.engagement.summary(WEEK))
    assert list(quotes.values()) == [["quote A popular", "quote A late", "quote A early"]]  # 2, 1, then earliest
    await commands.handle(CommandContext(Platform.SLACK, "UOK", "CPROMPT"), "quote off")
    quotes = runtime.engagement.quotes(runtime.engagement.summary(WEEK))
    assert list(quotes.values()) == [["quote B by emoji"]]
    card = runtime.engagement.summary_card(runtime.engagement.summary(WEEK), public=True)
    assert "NEVER-QUOTED" not in json.dumps(card.sections)
    runtime.close()


async def test_mydata_returns_all_of_the_callers_data_and_nothing_of_anyone_else(tmp_path, slack_fake):
    _, url = slack_fake
    runtime = make_runtime(tmp_path, url)
    await post_prompt(runtime)
    mine = reply("UME", "MY-REPLY", 5)
    runtime.capture.apply(mine)
    runtime.capture.apply(reply("UOTHER", "OTHER-REPLY", 6))
    runtime.capture.apply(react("UME", POST_TS, "tada", 7))
    runtime.capture.apply(react("UOTHER", mine.message_id, "+1", 8))
    await runtime.commands.handle(CommandContext(Platform.SLACK, "UME", "CPROMPT"), "quote off")
    answer = await runtime.commands.handle(CommandContext(Platform.SLACK, "UME", "CPROMPT"), "mydata")
    assert answer.attachment is not None
    data = json.loads(answer.attachment.content)
    assert data["member_id"] == "slack:UME"
    assert data["member"]["display_name"] == "Name-UME-MARK"
    assert [r["text"] for r in data["replies"]] == ["MY-REPLY"]
    assert [r["name"] for r in data["reactions"]] == ["tada"]
    assert [w["kind"] for w in data["consent_withdrawals"]] == ["quote"]
    assert data["capture_not_before"] is None  # never opted in or out
    raw = answer.attachment.content.decode()
    assert "OTHER" not in raw
    assert "UOTHER" not in raw
    runtime.close()


async def test_every_prompt_carries_the_privacy_notice(tmp_path, slack_fake):
    fake, url = slack_fake
    runtime = make_runtime(tmp_path, url, 'privacy_url = "https://example.org/privacy"\n')
    await post_prompt(runtime)
    sent = json.dumps(fake.calls_to("chat.postMessage")[0]["args"])
    assert "Privacy notice: https://example.org/privacy" in sent
    privacy = await runtime.commands.handle(CommandContext(Platform.SLACK, "UANY", "CPROMPT"), "privacy")
    assert "after 730 days" in privacy.text
    runtime.close()
