"""Commands in Teams: in personal chat and by @mention in a channel; exports through file consent."""

from __future__ import annotations

import json

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.fakes import (
    TEAMS_CHANNEL_ID,
    teams_channel_mention,
    teams_channel_reply,
    teams_file_consent_invoke,
    teams_personal_message,
)
from tests.teams.harness import ADMIN, Harness, adaptive_content, card_texts

# --------------------------------------------------------------------------------------------------------------------
# commands


async def test_commands_in_personal_chat(harness: Harness) -> None:
    url = harness.url
    chat = "a:1fake-personal-chat-admin"
    assert await harness.send(teams_personal_message("engage summary this", service_url=url)) == 201
    assert await harness.send(teams_personal_message("summary", service_url=url, user_id=ADMIN, conversation_id=chat))
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

    assert await harness.send(teams_personal_message("post", service_url=url, user_id=ADMIN, conversation_id=chat))
    texts = card_texts(adaptive_content(harness.connector.calls_to("reply_to_activity")[-1]["body"]))
    assert any("team channels" in text for text in texts)
    assert (harness.connector.calls_to("create_conversation"), harness.count("posts")) == ([], 0)


async def test_mention_commands_in_a_channel(harness: Harness) -> None:
    url = harness.url
    refused = teams_channel_mention("post", service_url=url)
    assert await harness.send(refused) == 201
    assert harness.connector.calls_to("create_conversation") == []
    assert harness.count("posts") == 0
    (reply,) = harness.connector.calls_to("reply_to_activity")
    assert reply["conversation_id"] == f"{TEAMS_CHANNEL_ID};messageid={refused['id']}"  # answered in its thread
    assert card_texts(adaptive_content(reply["body"]))[0] == "Not allowed"

    # the mention itself stored the channel's reference, so the admin's post can go out
    assert await harness.send(teams_channel_mention("engage post Workforce", service_url=url, user_id=ADMIN)) == 201
    (created,) = harness.connector.calls_to("create_conversation")
    assert created["body"]["channelData"]["channel"]["id"] == TEAMS_CHANNEL_ID
    (post,) = harness.rows("SELECT theme, channel_id FROM posts")
    assert post == {"theme": "Workforce", "channel_id": TEAMS_CHANNEL_ID}
    assert card_texts(adaptive_content(harness.connector.calls_to("reply_to_activity")[-1]["body"]))[0] == (
        "Prompt posted"
    )
    # a command in a prompt thread is a command, not a reply
    root = harness.rows("SELECT message_id FROM posts")[0]["message_id"]
    mention_reply = teams_channel_reply("help", root_id=root, mention_bot=True, service_url=url)
    assert await harness.send(mention_reply) == 201
    assert harness.count("replies") == 0


async def test_export_goes_through_file_consent(harness: Harness) -> None:
    uploads: list[tuple[bytes, str]] = []

    async def sink(request: web.Request) -> web.Response:
        uploads.append((await request.read(), request.headers["Content-Range"]))
        return web.json_response({"id": "file"}, status=201)

    storage = web.Application()
    storage.router.add_put("/upload/{name}", sink)
    async with TestServer(storage, host="127.0.0.1") as onedrive:
        url = harness.url
        assert await harness.send(teams_personal_message("export this", service_url=url, user_id=ADMIN)) == 201
        card, consent = harness.connector.calls_to("reply_to_activity")
        assert card_texts(adaptive_content(card["body"]))[0].startswith("Export ")
        (attachment,) = consent["body"]["attachments"]
        assert attachment["contentType"] == "application/vnd.microsoft.teams.card.file.consent"
        assert attachment["name"].endswith(".csv")
        context = attachment["content"]["acceptContext"]

        upload_url = str(onedrive.make_url("/upload/export.csv"))
        stranger = teams_file_consent_invoke(
            "accept", context=context, upload_url=upload_url, service_url=url, user_id="29:someone-else"
        )
        assert await harness.send(stranger) == 200
        assert uploads == []
        accept = teams_file_consent_invoke("accept", context=context, upload_url=upload_url, service_url=url)
        accept["from"]["id"] = ADMIN
        assert await harness.send(accept) == 200
        ((data, content_range),) = uploads
        assert data.decode().startswith("kind,platform,channel,post_id")
        assert content_range == f"bytes 0-{len(data) - 1}/{len(data)}"
        info = harness.connector.calls_to("reply_to_activity")[-1]["body"]["attachments"][0]
        assert info["contentType"] == "application/vnd.microsoft.teams.card.file.info"
        assert info["content"]["uniqueId"] == "1150D938-8870-4044-9F2C-5BBDEBA70C8C"

        assert await harness.send(accept) == 200  # a second accept finds nothing pending
        assert len(uploads) == 1
        assert "expired" in harness.connector.calls_to("reply_to_activity")[-1]["body"]["text"]

    assert await harness.send(teams_personal_message("export", service_url=url, user_id=ADMIN)) == 201
    context = harness.connector.calls_to("reply_to_activity")[-1]["body"]["attachments"][0]["content"]["acceptContext"]
    decline = teams_file_consent_invoke("decline", context=context, upload_url="", service_url=url, user_id=ADMIN)
    assert await harness.send(decline) == 200
    assert harness.connector.calls_to("reply_to_activity")[-1]["body"]["text"] == "Export declined: nothing was sent."

    assert await harness.send(teams_channel_mention("export", service_url=url, user_id=ADMIN)) == 201
    assert "personal chat" in harness.connector.calls_to("reply_to_activity")[-1]["body"]["text"]


async def test_mydata_is_offered_to_a_member_through_file_consent(harness: Harness) -> None:
    uploads: list[bytes] = []

    async def sink(request: web.Request) -> web.Response:
        uploads.append(await request.read())
        return web.json_response({"id": "file"}, status=201)

    storage = web.Application()
    storage.router.add_put("/upload/{name}", sink)
    async with TestServer(storage, host="127.0.0.1") as onedrive:
        url = harness.url
        member = "29:1member-mydata"
        assert await harness.send(teams_personal_message("mydata", service_url=url, user_id=member)) == 201
        consent = harness.connector.calls_to("reply_to_activity")[-1]
        (attachment,) = consent["body"]["attachments"]
        assert attachment["contentType"] == "application/vnd.microsoft.teams.card.file.consent"
        assert attachment["name"] == "engagebot-mydata-teams.json"
        accept = teams_file_consent_invoke(
            "accept",
            context=attachment["content"]["acceptContext"],
            upload_url=str(onedrive.make_url("/upload/mydata.json")),
            service_url=url,
            user_id=member,
        )
        assert await harness.send(accept) == 200
    (data,) = uploads
    assert json.loads(data)["member_id"] == f"teams:{member}"
