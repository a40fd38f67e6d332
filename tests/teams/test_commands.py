"""Commands in Teams: in personal chat, and by @mention in a channel answered in a private chat; each delivery run
once; @mentions in prompt threads are replies unless they start with a command; exports through file consent."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import (
    TEAMS_BOT_ID,
    TEAMS_CHANNEL_ID,
    TEAMS_TENANT_ID,
    ConnectorCall,
    teams_channel_mention,
    teams_channel_reply,
    teams_file_consent_invoke,
    teams_install_conversation_update,
    teams_personal_message,
)
from tests.held_reads import GIVE_UP, HeldReads
from tests.privacy_support import file_bytes
from tests.teams.harness import ADMIN, Harness, OneDrive, adaptive_content, card_texts

# --------------------------------------------------------------------------------------------------------------------
# commands


async def test_commands_in_personal_chat(harness: Harness) -> None:
    url = harness.url
    chat = "a:1fake-personal-chat-admin"
    assert await harness.send(teams_personal_message("engage summary this", service_url=url)) == 201
    assert (
        await harness.send(teams_personal_message("summary", service_url=url, user_id=ADMIN, conversation_id=chat))
        == 201
    )
    assert await harness.send(teams_personal_message("frobnicate", service_url=url)) == 201

    refused, summary, unknown = harness.connector.calls_to("reply_to_activity")
    assert refused["conversation_id"] == "a:1fake-personal-chat-alice"
    assert card_texts(adaptive_content(refused["body"]))[0] == "Not allowed"
    assert summary["conversation_id"] == chat
    texts = card_texts(adaptive_content(summary["body"]))
    assert texts[0].startswith("Engagement summary ")
    assert any(text.startswith("Posts: 0") for text in texts)
    assert "Unknown command 'frobnicate'." in card_texts(adaptive_content(unknown["body"]))
    assert harness.count("conversation_refs") == 0  # personal chats are not channels

    assert (
        await harness.send(teams_personal_message("post", service_url=url, user_id=ADMIN, conversation_id=chat)) == 201
    )
    texts = card_texts(adaptive_content(harness.connector.calls_to("reply_to_activity")[-1]["body"]))
    assert any("team channels" in text for text in texts)
    assert (harness.connector.calls_to("create_conversation"), harness.count("posts")) == ([], 0)


ANSWERED_PRIVATELY = "I've replied to you in a private chat."  # the one line a channel sees of a command's answer
NO_PRIVATE_CHAT = "I couldn't open a private chat with you: message me in a personal chat and ask there."


def _private(harness: Harness, user_id: str) -> list[ConnectorCall]:
    """What the bot sent into the 1:1 chat it opened with ``user_id``."""
    chat = harness.connector.personal_chats[user_id]
    return [call for call in harness.connector.calls_to("send_to_conversation") if call["conversation_id"] == chat]


def _in_channel(harness: Harness) -> list[ConnectorCall]:
    """Everything the bot said in the team channel: replies in a thread, and new threads."""
    said = []
    for call in harness.connector.calls:
        if call["op"] == "create_conversation":
            target = (call["body"].get("channelData") or {}).get("channel", {}).get("id", "")
        elif call["op"] in ("reply_to_activity", "send_to_conversation"):
            target = call["conversation_id"] or ""
        else:
            continue
        if target.startswith("19:"):
            said.append(call)
    return said


FILE_CONSENT = "application/vnd.microsoft.teams.card.file.consent"


async def accept_file(
    harness: Harness, onedrive: OneDrive, consent: ConnectorCall, user_id: str, chat: str | None = None
) -> tuple[dict[str, Any], bytes]:
    """The file offered by ``consent`` (a file-consent card), accepted by ``user_id`` as Teams does (in the personal
    chat ``chat``, if the test knows it): the card's attachment and the one file uploaded."""
    (attachment,) = consent["body"]["attachments"]
    assert attachment["contentType"] == FILE_CONSENT
    accept = teams_file_consent_invoke(
        "accept",
        context=attachment["content"]["acceptContext"],
        upload_url=onedrive.url(attachment["name"]),
        service_url=harness.url,
        user_id=user_id,
    )
    if chat is not None:
        accept["conversation"]["id"] = chat
    assert await harness.send(accept) == 200
    (data,) = onedrive.files
    return attachment, data


async def test_channel_commands_are_answered_in_a_private_chat(harness: Harness) -> None:
    url = harness.url
    refused = teams_channel_mention("post", service_url=url)
    assert await harness.send(refused) == 201
    (opened,) = harness.connector.calls_to("create_conversation")
    assert opened["body"]["isGroup"] is False
    assert opened["body"]["members"] == [{"id": "29:1user-alice"}]
    assert opened["body"]["channelData"] == {"tenant": {"id": TEAMS_TENANT_ID}}
    assert opened["body"]["bot"]["id"] == TEAMS_BOT_ID
    (answer,) = _private(harness, "29:1user-alice")
    assert card_texts(adaptive_content(answer["body"]))[0] == "Not allowed"
    (note,) = _in_channel(harness)
    assert (note["op"], note["conversation_id"]) == (
        "reply_to_activity",
        f"{TEAMS_CHANNEL_ID};messageid={refused['id']}",
    )
    assert note["body"]["text"] == ANSWERED_PRIVATELY
    assert "attachments" not in note["body"]
    assert harness.count("posts") == 0

    # the mention itself stored the channel's reference, so the admin's post can go out; its answer is private too
    harness.connector.clear()
    assert await harness.send(teams_channel_mention("engage post Workforce", service_url=url, user_id=ADMIN)) == 201
    (post,) = harness.rows("SELECT theme, channel_id, message_id FROM posts")
    assert (post["theme"], post["channel_id"]) == ("Workforce", TEAMS_CHANNEL_ID)
    (answer,) = _private(harness, ADMIN)
    assert card_texts(adaptive_content(answer["body"]))[0] == "Prompt posted"
    prompt, note = _in_channel(harness)
    assert prompt["op"] == "create_conversation"  # the prompt: a new thread in the channel
    assert prompt["body"]["channelData"]["channel"]["id"] == TEAMS_CHANNEL_ID
    assert note["body"]["text"] == ANSWERED_PRIVATELY
    assert harness.connector.personal_chats[ADMIN] != harness.connector.personal_chats["29:1user-alice"]


async def test_optout_in_a_channel_is_never_announced_there(harness: Harness) -> None:
    post = await harness.install_and_post()
    url = harness.url
    reply = teams_channel_reply("my view", root_id=post.message_id, service_url=url, user_id="29:1user-bob")
    assert await harness.send(reply) == 201
    harness.connector.clear()

    optout = teams_channel_mention("optout", service_url=url, user_id="29:1user-bob", user_name="Bob")
    assert await harness.send(optout) == 201
    assert harness.count("replies") == 0
    assert harness.rows("SELECT member_id FROM optouts") == [{"member_id": "teams:29:1user-bob"}]
    (answer,) = _private(harness, "29:1user-bob")
    assert card_texts(adaptive_content(answer["body"]))[0] == "You have opted out"
    (note,) = _in_channel(harness)
    assert note["body"] == {**note["body"], "text": ANSWERED_PRIVATELY}  # the same neutral line as for any command
    assert "opt" not in json.dumps(note["body"]).lower()


async def test_summary_asked_in_a_channel_is_the_public_card(harness: Harness) -> None:
    post = await harness.install_and_post()
    url = harness.url
    # one participant: fewer than min_group_size (3), so the channel's card withholds the figures
    reply = teams_channel_reply("only me", root_id=post.message_id, service_url=url, user_id="29:1user-bob")
    assert await harness.send(reply) == 201
    harness.connector.clear()

    asked = teams_channel_mention("summary this", service_url=url, user_id=ADMIN)
    assert await harness.send(asked) == 201
    assert harness.connector.calls_to("create_conversation") == []  # no private chat: the answer is for the channel
    (card,) = harness.connector.calls
    assert (card["op"], card["conversation_id"]) == ("reply_to_activity", f"{TEAMS_CHANNEL_ID};messageid={asked['id']}")
    texts = card_texts(adaptive_content(card["body"]))
    assert "Activity: replies and reactions from fewer than 3 people" in texts
    assert not any(text.startswith(("Replies:", "Participants:")) for text in texts)

    # the same admin in personal chat gets the exact card
    chat = "a:1fake-personal-chat-admin"
    assert (
        await harness.send(teams_personal_message("summary this", service_url=url, user_id=ADMIN, conversation_id=chat))
        == 201
    )
    exact = card_texts(adaptive_content(harness.connector.calls_to("reply_to_activity")[-1]["body"]))
    assert any(text.startswith("Replies: 1 ") for text in exact)
    assert any(text.startswith("Participants: 1 ") for text in exact)


async def test_no_private_chat_means_a_neutral_note_and_nothing_else(harness: Harness) -> None:
    harness.connector.fail_next("create_conversation", status=403, code="BotNotInConversationRoster")
    asked = teams_channel_mention("mydata", service_url=harness.url, user_id="29:1user-bob")
    assert await harness.send(asked) == 201
    (opened,) = harness.connector.calls_to("create_conversation")
    assert opened["body"]["members"] == [{"id": "29:1user-bob"}]
    (note,) = _in_channel(harness)
    assert note["body"]["text"] == NO_PRIVATE_CHAT
    assert [call["op"] for call in harness.connector.calls] == ["create_conversation", "reply_to_activity"]


async def test_commands_in_personal_chat_leave_no_chat_id_in_the_database_files(harness: Harness) -> None:
    # A personal chat's conversation id belongs to one member: the commands' dedupe keys hold only its hash.
    chats = {"29:1user-alice": "a:1personal-chat-of-alice-7Qx", ADMIN: "a:1personal-chat-of-admin-9Zy"}
    for user, chat in chats.items():
        for text in ("privacy", "quote ok", "whoami"):
            message = teams_personal_message(text, service_url=harness.url, user_id=user, conversation_id=chat)
            assert await harness.send(message) == 201
            assert await harness.send(message) == 201  # redelivered: found by its key, not run again
    answers = harness.connector.calls_to("reply_to_activity")
    assert [a["conversation_id"] for a in answers] == [chat for chat in chats.values() for _ in range(3)]  # once each
    keys = harness.rows("SELECT event_key FROM seen_events WHERE event_key LIKE 'teams:command:%'")
    assert len(keys) == 6
    assert all(re.fullmatch(r"teams:command:sha256-[0-9a-f]{64}", row["event_key"]) for row in keys)
    on_disk = file_bytes(Path(harness.runtime.repo.path))
    assert b"teams:command:sha256-" in on_disk  # the scan reads what is there
    for chat in chats.values():
        assert chat.encode() not in on_disk, chat


async def test_a_redelivered_command_runs_once(harness: Harness) -> None:
    assert await harness.send(teams_install_conversation_update(service_url=harness.url)) == 201
    post = teams_channel_mention("post", service_url=harness.url, user_id=ADMIN)
    assert await harness.send(post) == 201
    assert await harness.send(post) == 201  # the connector redelivers on a timeout: the same activity id
    (row,) = harness.rows("SELECT channel_id FROM posts")
    assert row == {"channel_id": TEAMS_CHANNEL_ID}
    prompts = [c for c in harness.connector.calls_to("create_conversation") if "channel" in c["body"]["channelData"]]
    assert len(prompts) == 1
    assert len(_private(harness, ADMIN)) == 1  # answered once
    key = hashlib.sha256(f"{TEAMS_CHANNEL_ID}\n{post['id']}".encode()).hexdigest()
    assert harness.rows("SELECT event_key FROM seen_events WHERE event_key LIKE 'teams:command:%'") == [
        {"event_key": f"teams:command:sha256-{key}"}
    ]

    # in personal chat too: a redelivered `optout` is not run (nor answered) again
    optout = teams_personal_message("optout", service_url=harness.url)
    assert await harness.send(optout) == 201
    assert await harness.send(optout) == 201
    assert harness.count("erasures") == 1
    answers = harness.connector.calls_to("reply_to_activity")
    assert [a["activity_id"] for a in answers].count(optout["id"]) == 1

    # a new message with the same text is a new command
    assert await harness.send(teams_channel_mention("post", service_url=harness.url, user_id=ADMIN)) == 201
    assert harness.count("posts") == 2

    # the delivery is recorded before the command runs: a redelivery of a command whose post failed does nothing
    # (the admin asks again), where recording after the post could post twice
    harness.connector.clear()
    harness.connector.fail_next("create_conversation", status=400, code="BadArgument")  # the prompt's thread
    failed = teams_channel_mention("post", service_url=harness.url, user_id=ADMIN)
    assert await harness.send(failed) == 201
    assert await harness.send(failed) == 201
    assert harness.count("posts") == 2
    (refusal,) = _private(harness, ADMIN)
    assert card_texts(adaptive_content(refusal["body"]))[0] == "The platform refused"
    assert len(harness.connector.calls_to("create_conversation")) == 2  # the failed post and the private chat: once


async def test_a_mention_in_a_prompt_thread_is_a_reply_unless_it_starts_with_a_command(harness: Harness) -> None:
    post = await harness.install_and_post()
    url, root = harness.url, post.message_id
    harness.connector.clear()
    # Without the RSC permission Teams delivers only @mentions: a reply to the prompt that mentions the bot
    reply = teams_channel_reply("I think prevention matters most", root_id=root, mention_bot=True, service_url=url)
    assert await harness.send(reply) == 201
    (stored,) = harness.rows("SELECT message_id, text FROM replies")
    assert stored == {"message_id": reply["id"], "text": "I think prevention matters most"}
    assert harness.connector.calls == []  # no "Unknown command" card in the thread

    # the first word after the mention is a command (with or without `engage`): a command, not a reply
    for text in ("help", "engage whoami", "Privacy please"):
        asked = teams_channel_reply(text, root_id=root, mention_bot=True, service_url=url, user_id="29:1user-bob")
        assert await harness.send(asked) == 201
    assert harness.count("replies") == 1
    titles = [card_texts(adaptive_content(c["body"]))[0] for c in _private(harness, "29:1user-bob")]
    assert titles == ["engagebot commands", "Your member id", "Privacy"]

    # outside a prompt thread an @mention stays a command, whatever its first word
    other = teams_channel_reply("what is this?", root_id="1732350000777", mention_bot=True, service_url=url)
    assert await harness.send(other) == 201
    assert harness.count("replies") == 1
    assert "Unknown command 'what'." in card_texts(adaptive_content(_private(harness, "29:1user-alice")[-1]["body"]))


async def test_export_goes_through_file_consent(harness: Harness, onedrive: OneDrive) -> None:
    url = harness.url
    assert await harness.send(teams_personal_message("export this", service_url=url, user_id=ADMIN)) == 201
    card, consent = harness.connector.calls_to("reply_to_activity")
    assert card_texts(adaptive_content(card["body"]))[0].startswith("Export ")
    (attachment,) = consent["body"]["attachments"]
    assert attachment["contentType"] == FILE_CONSENT
    assert attachment["name"].endswith(".csv")
    context = attachment["content"]["acceptContext"]

    upload_url = onedrive.url("export.csv")
    stranger = teams_file_consent_invoke(
        "accept", context=context, upload_url=upload_url, service_url=url, user_id="29:someone-else"
    )
    assert await harness.send(stranger) == 200
    assert onedrive.uploads == []
    accept = teams_file_consent_invoke("accept", context=context, upload_url=upload_url, service_url=url)
    accept["from"]["id"] = ADMIN
    assert await harness.send(accept) == 200
    ((data, content_range),) = onedrive.uploads
    assert data.decode().startswith("kind,platform,channel,post_id")
    assert content_range == f"bytes 0-{len(data) - 1}/{len(data)}"
    info = harness.connector.calls_to("reply_to_activity")[-1]["body"]["attachments"][0]
    assert info["contentType"] == "application/vnd.microsoft.teams.card.file.info"
    assert info["content"]["uniqueId"] == "1150D938-8870-4044-9F2C-5BBDEBA70C8C"

    assert await harness.send(accept) == 200  # a second accept finds nothing pending
    assert len(onedrive.uploads) == 1
    assert "expired" in harness.connector.calls_to("reply_to_activity")[-1]["body"]["text"]

    assert await harness.send(teams_personal_message("export", service_url=url, user_id=ADMIN)) == 201
    context = harness.connector.calls_to("reply_to_activity")[-1]["body"]["attachments"][0]["content"]["acceptContext"]
    decline = teams_file_consent_invoke("decline", context=context, upload_url="", service_url=url, user_id=ADMIN)
    assert await harness.send(decline) == 200
    assert harness.connector.calls_to("reply_to_activity")[-1]["body"]["text"] == "Export declined: nothing was sent."


async def test_export_asked_in_a_channel_is_offered_in_the_personal_chat(harness: Harness, onedrive: OneDrive) -> None:
    url = harness.url
    assert await harness.send(teams_channel_mention("export this", service_url=url, user_id=ADMIN)) == 201
    card, consent = _private(harness, ADMIN)
    assert card_texts(adaptive_content(card["body"]))[0].startswith("Export ")
    (note,) = _in_channel(harness)
    assert note["body"]["text"] == ANSWERED_PRIVATELY
    assert "attachments" not in note["body"]

    chat = harness.connector.personal_chats[ADMIN]
    _, data = await accept_file(harness, onedrive, consent, ADMIN, chat)
    assert data.decode().startswith("kind,platform,channel,post_id")
    (info,) = [c for c in harness.connector.calls_to("reply_to_activity") if c["conversation_id"] == chat]
    assert info["body"]["attachments"][0]["contentType"] == "application/vnd.microsoft.teams.card.file.info"


async def test_mydata_is_offered_to_a_member_through_file_consent(harness: Harness, onedrive: OneDrive) -> None:
    url = harness.url
    member = "29:1member-mydata"
    assert await harness.send(teams_personal_message("mydata", service_url=url, user_id=member)) == 201
    consent = harness.connector.calls_to("reply_to_activity")[-1]
    attachment, data = await accept_file(harness, onedrive, consent, member)
    assert attachment["name"] == "engagebot-mydata-teams.json"
    assert json.loads(data)["member_id"] == f"teams:{member}"


async def test_a_reply_is_captured_while_a_report_is_being_built(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    post = await harness.install_and_post()
    url = harness.url
    held = HeldReads(monkeypatch)
    report = asyncio.create_task(harness.send(teams_personal_message("report 3", service_url=url, user_id=ADMIN)))
    assert await asyncio.to_thread(held.started.wait, GIVE_UP)  # the report is reading, off the event loop

    reply = teams_channel_reply("Said during the report", root_id=post.message_id, service_url=url)
    assert await harness.send(reply) == 201
    assert [r["text"] for r in harness.rows("SELECT text FROM replies")] == ["Said during the report"]
    assert not report.done()

    held.release.set()
    assert await report == 201
    assert held.released is True
    assert "MainThread" not in held.threads
    card, consent = harness.connector.calls_to("reply_to_activity")[-2:]
    assert card_texts(adaptive_content(card["body"]))[0].startswith("Report ")
    (attachment,) = consent["body"]["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.teams.card.file.consent"


async def test_admin_report_goes_through_file_consent_and_members_are_refused(
    harness: Harness, onedrive: OneDrive
) -> None:
    url = harness.url
    member = "29:1member-report"
    assert await harness.send(teams_personal_message("report", service_url=url, user_id=member)) == 201
    [refused] = harness.connector.calls_to("reply_to_activity")
    assert card_texts(adaptive_content(refused["body"]))[0] == "Not allowed"
    assert await harness.send(teams_personal_message("report 0", service_url=url, user_id=ADMIN)) == 201
    assert card_texts(adaptive_content(harness.connector.calls_to("reply_to_activity")[-1]["body"]))[0] == (
        "Cannot do that"
    )
    assert len(harness.connector.calls_to("reply_to_activity")) == 2  # no file offered to either

    assert await harness.send(teams_personal_message("report 3", service_url=url, user_id=ADMIN)) == 201
    card, consent = harness.connector.calls_to("reply_to_activity")[-2:]
    assert card_texts(adaptive_content(card["body"]))[0].startswith("Report ")
    attachment, data = await accept_file(harness, onedrive, consent, ADMIN)
    assert re.fullmatch(r"report-\d{4}-W\d\d-\d{4}-W\d\d\.html", attachment["name"])
    html = data.decode()
    assert html.startswith("<!DOCTYPE html>")
    assert "3 weeks (" in html
    assert "Exact figures" not in html
