"""`/engage` in Slack: quick answers in the ack, slow ones through response_url, files into a direct message."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlencode

import pytest

from bot.service import EXPORT_FIELDS
from bot.timeutil import IsoWeek, from_slack_ts, to_db, utc_now
from tests.fakes import UploadedFile, slack_command_body, slack_reaction_added, slack_thread_reply
from tests.held_reads import GIVE_UP, HeldReads
from tests.slack.rig import ADMIN, CHANNEL, MEMBER, TOKEN, Rig, ts_at

# -- /engage ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["summary", "summary this", "post", "themes", "schedule", "export", "export last", "report", "report 4"]
)
async def test_member_is_refused_admin_commands_and_nothing_changes(rig: Rig, text: str) -> None:
    post = await rig.post_prompt()
    await rig.event(slack_thread_reply("hello", thread_ts=post.message_id, channel=CHANNEL))
    await rig.slack.wait_idle()
    before = {t: rig.rows(t) for t in ("posts", "replies", "reactions", "members", "optouts")}
    calls_before = len(rig.fake.calls)

    ack = await rig.command(text, user=MEMBER)
    assert ack["response_type"] == "ephemeral"
    assert ack["blocks"][0]["text"]["text"] == "Not allowed"
    assert "is for engagebot admins" in ack["text"]
    assert {t: rig.rows(t) for t in before} == before
    assert [c["method"] for c in rig.fake.calls[calls_before:]] == []  # no post, no upload, no DM
    assert rig.fake.responses == []


@pytest.mark.parametrize(("user", "admin_listed"), [(MEMBER, False), (ADMIN, True)])
async def test_help_lists_what_the_caller_may_do(rig: Rig, user: str, admin_listed: bool) -> None:
    for text in ("help", "", "engage help"):
        ack = await rig.command(text, user=user)
        assert ack["blocks"][0]["text"]["text"] == "engagebot commands"
        assert "optout" in ack["text"]
        assert ("summary [this|last|YYYY-Www]" in ack["text"]) is admin_listed


@pytest.mark.parametrize("user", [MEMBER, ADMIN])
async def test_unknown_subcommand_gets_help(rig: Rig, user: str) -> None:
    ack = await rig.command("frobnicate now", user=user)
    assert ack["blocks"][0]["text"]["text"] == "engagebot commands"
    assert "Unknown command 'frobnicate'" in ack["text"]


async def test_privacy_for_anyone(rig: Rig) -> None:
    ack = await rig.command("privacy")
    assert ack["blocks"][0]["text"]["text"] == "Privacy"
    assert "optout" in ack["text"]
    assert (
        "Nothing else from the channel is stored. If you are an admin, your dashboard sign-ins are kept too."
        in (ack["text"])
    )


async def test_admin_themes_and_schedule_answer_in_the_ack(rig: Rig) -> None:
    ack = await rig.command("themes", user=ADMIN)
    assert ack["blocks"][0]["text"]["text"] == "Themes"
    assert "Workforce" in ack["text"]
    ack = await rig.command("schedule", user=ADMIN)
    assert ack["blocks"][0]["text"]["text"] == "Schedule"
    fields = [f["text"] for f in ack["blocks"][1]["fields"]]
    assert fields[0].startswith("*Next prompt*\n")
    assert fields[1].startswith("*Next summary*\n")


async def test_admin_summary_arrives_through_response_url(rig: Rig) -> None:
    post = await rig.post_prompt()
    await rig.event(slack_thread_reply("one", thread_ts=post.message_id, channel=CHANNEL, ts=ts_at(post, 60)))
    await rig.event(slack_reaction_added("+1", ts=post.message_id, user="U222", channel=CHANNEL))
    week = IsoWeek.containing(post.posted_at, rig.runtime.settings.timezone)

    ack = await rig.command(f"summary {week}", user=ADMIN)
    assert ack == {"response_type": "ephemeral", "text": "Working on `summary`…"}
    [reply] = rig.fake.responses
    assert reply["response_type"] == "ephemeral"
    assert reply["replace_original"] is False
    assert reply["blocks"][0]["text"]["text"].startswith(f"Engagement summary {week}")
    facts = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in reply["blocks"][1]["fields"]}
    assert facts["*Posts*"].startswith("1 ")
    assert facts["*Replies*"].startswith("1 ")
    assert facts["*Reactions*"].startswith("1 ")
    assert "Replies: 1" in reply["text"]


async def test_admin_summary_with_a_bad_week_explains(rig: Rig) -> None:
    await rig.command("summary 2026-W99", user=ADMIN)
    [reply] = rig.fake.responses
    assert reply["blocks"][0]["text"]["text"] == "Cannot do that"
    assert "2026-W99" in reply["text"]


async def test_admin_post_posts_in_the_channel_of_the_command(rig: Rig) -> None:
    ack = await rig.command("post Workforce", user=ADMIN, channel="C0HERE")
    assert ack["text"] == "Working on `post`…"
    [call] = rig.fake.calls_to("chat.postMessage")
    assert call["args"]["channel"] == "C0HERE"
    assert call["auth"] == f"Bearer {TOKEN}"
    [post] = rig.rows("posts")
    assert (post["channel_id"], post["theme"], post["message_id"]) == ("C0HERE", "Workforce", "1732350000.000100")
    assert post["posted_at"] == to_db(from_slack_ts("1732350000.000100"))
    [reply] = rig.fake.responses
    assert reply["blocks"][0]["text"]["text"] == "Prompt posted"


async def test_admin_post_failure_is_reported_and_records_nothing(rig: Rig) -> None:
    rig.fake.fail_next("chat.postMessage", error="channel_not_found")
    await rig.command("post", user=ADMIN, channel="C0GONE")
    assert rig.rows("posts") == []
    [reply] = rig.fake.responses
    assert reply["blocks"][0]["text"]["text"] == "The platform refused"
    assert "channel_not_found" in reply["text"]


async def test_admin_post_in_doubt_says_check_the_channel_and_is_not_retried(rig: Rig) -> None:
    rig.fake.fail_after_accept("chat.postMessage", drop=True)  # posted, and the answer lost
    await rig.command("post", user=ADMIN, channel="C0HERE")
    assert len(rig.fake.calls_to("chat.postMessage")) == 1
    assert len(rig.fake.posted("C0HERE")) == 1
    assert rig.rows("posts") == []
    [reply] = rig.fake.responses
    assert reply["blocks"][0]["text"]["text"] == "May have been posted"
    assert "check the channel before you post again" in reply["text"]


def sent_privately(rig: Rig, user: str) -> tuple[UploadedFile, bytes]:
    """The one file uploaded, and shared, into the direct message opened with ``user``; nothing but the prompt went
    to the channel."""
    [opened] = rig.fake.calls_to("conversations.open")
    assert opened["args"]["users"] == user
    [upload] = rig.fake.uploads.values()
    assert upload.completed
    assert upload.channel_id == f"D{user}"
    assert upload.data is not None
    assert [c["args"]["channel"] for c in rig.fake.calls_to("chat.postMessage")] == [CHANNEL]
    return upload, upload.data


async def test_admin_export_is_uploaded_privately(rig: Rig) -> None:
    post = await rig.post_prompt()
    await rig.event(slack_thread_reply("exported", thread_ts=post.message_id, channel=CHANNEL, ts=ts_at(post, 60)))
    week = IsoWeek.containing(post.posted_at, rig.runtime.settings.timezone)

    ack = await rig.command(f"export {week}", user=ADMIN)
    assert ack["text"] == "Working on `export`…"
    upload, data = sent_privately(rig, ADMIN)
    assert upload.filename == f"engagebot-{week}.csv"
    lines = data.decode().splitlines()
    assert lines[0].split(",") == list(EXPORT_FIELDS)
    assert lines[0].startswith("kind,platform,channel,post_id,theme,prompt,message_id,member,display_name,text,")
    assert len(lines) == 2
    assert "exported" in lines[1]
    [reply] = rig.fake.responses
    assert reply["response_type"] == "ephemeral"
    assert f"engagebot-{week}.csv" in reply["text"]
    assert "direct message" in reply["text"]


async def test_admin_report_is_uploaded_privately_as_one_html_file(rig: Rig) -> None:
    post = await rig.post_prompt()
    await rig.event(slack_thread_reply("reported", thread_ts=post.message_id, channel=CHANNEL, ts=ts_at(post, 60)))
    last = IsoWeek.containing(utc_now(), rig.runtime.settings.timezone).previous()

    ack = await rig.command("report 4", user=ADMIN)
    assert ack["text"] == "Working on `report`…"
    upload, data = sent_privately(rig, ADMIN)
    assert upload.filename == f"report-{last.back(3)}-{last}.html"
    html = data.decode()
    assert html.startswith("<!DOCTYPE html>")
    assert '<meta http-equiv="Content-Security-Policy"' in html
    assert f"4 weeks ({last.back(3)} to {last})" in html
    assert "Exact figures" not in html  # never exact through chat
    [reply] = rig.fake.responses
    assert reply["response_type"] == "ephemeral"
    assert "direct message" in reply["text"]


@pytest.mark.parametrize(("text", "delivered"), [("summary", False), ("export", True), ("report 4", True)])
async def test_a_capture_is_answered_while_a_long_command_reads(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, text: str, delivered: bool
) -> None:
    post = await rig.post_prompt()
    await rig.event(slack_thread_reply("before", thread_ts=post.message_id, channel=CHANNEL, ts=ts_at(post, 60)))
    held = HeldReads(monkeypatch)
    body = slack_command_body(text, ADMIN, CHANNEL, rig.response_url)
    ack = await rig.raw(body, content_type="application/x-www-form-urlencoded")
    assert ack.status == 200
    assert await asyncio.to_thread(held.started.wait, GIVE_UP)  # the command is reading, off the event loop

    await rig.event(slack_thread_reply("during", thread_ts=post.message_id, channel=CHANNEL, ts=ts_at(post, 120)))
    assert [r["text"] for r in rig.rows("replies")] == ["before", "during"]
    assert rig.fake.responses == []  # the command's answer is still being made

    held.release.set()
    await rig.slack.wait_idle()
    assert held.released is True
    assert "MainThread" not in held.threads
    [reply] = rig.fake.responses
    assert reply["response_type"] == "ephemeral"
    assert ("direct message" in reply["text"]) is delivered
    assert len(rig.fake.uploads) == int(delivered)


@pytest.mark.parametrize("text", ["report many", "report 0", "report 105", "report 4 weeks"])
async def test_report_with_a_bad_number_of_weeks_sends_nothing(rig: Rig, text: str) -> None:
    await rig.command(text, user=ADMIN)
    [reply] = rig.fake.responses
    assert reply["blocks"][0]["text"]["text"] == "Cannot do that"
    assert "report [weeks]" in reply["text"]
    assert rig.fake.uploads == {}
    assert rig.fake.calls_to("conversations.open") == []


async def test_mydata_sends_members_their_own_data_privately(rig: Rig) -> None:
    post = await rig.post_prompt()
    await rig.event(
        slack_thread_reply("mine", thread_ts=post.message_id, channel=CHANNEL, user=MEMBER, ts=ts_at(post, 60))
    )
    await rig.event(
        slack_thread_reply("theirs", thread_ts=post.message_id, channel=CHANNEL, user="UOTHER", ts=ts_at(post, 61))
    )
    ack = await rig.command("mydata", user=MEMBER)
    assert ack["text"] == "Working on `mydata`…"
    upload, raw = sent_privately(rig, MEMBER)
    data = json.loads(raw)
    assert data["member_id"] == f"slack:{MEMBER}"
    assert [r["text"] for r in data["replies"]] == ["mine"]
    # A member has no dashboard sign-ins: the reply does not mention them.
    assert upload.initial_comment is not None
    assert (
        "Everything engagebot stores about you: 1 reply, 0 reactions and your member record." in upload.initial_comment
    )
    assert b"UOTHER" not in raw
    assert b"theirs" not in raw


async def test_export_upload_failure_is_reported(rig: Rig) -> None:
    rig.fake.fail_next("files.getUploadURLExternal", error="not_allowed_token_type")
    await rig.command("export this", user=ADMIN)
    [reply] = rig.fake.responses
    assert reply["blocks"][0]["text"]["text"] == "The platform refused"
    assert "not_allowed_token_type" in reply["text"]
    assert rig.fake.uploads == {}


async def test_interactivity_payload_is_acknowledged_and_ignored(rig: Rig) -> None:
    payload = {"type": "block_actions", "user": {"id": MEMBER}, "actions": [{"action_id": "x", "value": "1"}]}
    body = urlencode({"payload": json.dumps(payload)})
    response = await rig.raw(body, content_type="application/x-www-form-urlencoded")
    assert response.status == 200
    assert rig.count("replies") == 0
