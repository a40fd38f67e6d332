"""Signed, realistically shaped Slack requests: Events API bodies, slash commands and url_verification."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

from tests.fakes.ids import MICROS, SLACK_APP_ID, SLACK_BOT_USER_ID, SLACK_TEAM_ID, format_ts

__all__ = [
    "next_slack_ts",
    "sign_slack",
    "slack_command_body",
    "slack_event_body",
    "slack_link_unfurled",
    "slack_message",
    "slack_message_changed",
    "slack_message_deleted",
    "slack_reaction_added",
    "slack_reaction_removed",
    "slack_thread_broadcast",
    "slack_thread_reply",
    "slack_url_verification_body",
]

_slack_ts_counter = itertools.count(1)
_SLACK_TS_BASE = 1732350000_000000


def next_slack_ts() -> str:
    """A fresh, increasing Slack ``ts`` ("1732350600.000100", ...) for event payloads."""
    n = next(_slack_ts_counter)
    return format_ts(_SLACK_TS_BASE + 600 * MICROS + n * (MICROS + 100))


def sign_slack(body: str, secret: str, ts: int | None = None) -> dict[str, str]:
    """Headers Slack sends: ``v0=`` + hex HMAC-SHA256(secret, ``v0:{timestamp}:{body}``)."""
    timestamp = str(int(time.time()) if ts is None else ts)
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}


def slack_event_body(
    event: dict[str, Any],
    event_id: str,
    *,
    team_id: str = SLACK_TEAM_ID,
    api_app_id: str = SLACK_APP_ID,
    event_time: int | None = None,
) -> str:
    """The Events API ``event_callback`` envelope as JSON text (sign exactly this string)."""
    if event_time is None:
        event_ts = event.get("event_ts") or event.get("ts")
        event_time = int(float(event_ts)) if event_ts else int(time.time())
    envelope = {
        "token": "verification-token",
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": SLACK_BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{event.get('type', 'event')}-{team_id}-{event.get('channel', '')}",
    }
    return json.dumps(envelope)


def slack_url_verification_body(challenge: str = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P") -> str:
    return json.dumps({"token": "verification-token", "challenge": challenge, "type": "url_verification"})


def slack_command_body(
    text: str,
    user_id: str,
    channel_id: str,
    response_url: str,
    *,
    command: str = "/engage",
    team_id: str = SLACK_TEAM_ID,
    user_name: str | None = None,
    channel_name: str = "general",
    trigger_id: str = "1732350000.111.abcdef0123456789",
) -> str:
    """A slash command exactly as Slack POSTs it: ``application/x-www-form-urlencoded``."""
    return urlencode(
        {
            "token": "verification-token",
            "team_id": team_id,
            "team_domain": "engage-test",
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name or user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": SLACK_APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
    )


def _rich_text(text: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "rich_text",
            "block_id": "b1",
            "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
        }
    ]


def slack_message(
    text: str,
    *,
    user: str = "U111",
    channel: str = "C111",
    ts: str | None = None,
    team: str = SLACK_TEAM_ID,
    channel_type: str = "channel",
) -> dict[str, Any]:
    """A top-level channel message (no subtype)."""
    ts = ts or next_slack_ts()
    return {
        "type": "message",
        "client_msg_id": f"msg-{ts}",
        "text": text,
        "user": user,
        "ts": ts,
        "team": team,
        "blocks": _rich_text(text),
        "channel": channel,
        "event_ts": ts,
        "channel_type": channel_type,
    }


def slack_thread_reply(
    text: str,
    *,
    thread_ts: str,
    user: str = "U111",
    channel: str = "C111",
    ts: str | None = None,
    parent_user_id: str = SLACK_BOT_USER_ID,
    team: str = SLACK_TEAM_ID,
) -> dict[str, Any]:
    """A thread reply as the Events API delivers it: no subtype, ``thread_ts`` != ``ts``."""
    event = slack_message(text, user=user, channel=channel, ts=ts, team=team)
    event.update({"thread_ts": thread_ts, "parent_user_id": parent_user_id})
    return event


def slack_thread_broadcast(
    text: str,
    *,
    thread_ts: str,
    user: str = "U111",
    channel: str = "C111",
    ts: str | None = None,
    root_user: str = SLACK_BOT_USER_ID,
    team: str = SLACK_TEAM_ID,
) -> dict[str, Any]:
    """A reply also sent to the channel (``subtype: thread_broadcast``, with ``root``)."""
    event = slack_message(text, user=user, channel=channel, ts=ts, team=team)
    event.update(
        {
            "subtype": "thread_broadcast",
            "thread_ts": thread_ts,
            "root": {
                "type": "message",
                "text": "root",
                "user": root_user,
                "ts": thread_ts,
                "team": team,
                "thread_ts": thread_ts,
                "reply_count": 1,
                "reply_users_count": 1,
                "latest_reply": event["ts"],
                "reply_users": [user],
                "is_locked": False,
            },
        }
    )
    return event


def _version(text: str, user: str, team: str, ts: str) -> dict[str, Any]:
    """One version of a member's message, as ``message`` and ``previous_message`` of a ``message_changed`` hold it."""
    return {"type": "message", "text": text, "user": user, "team": team, "ts": ts, "blocks": _rich_text(text)}


def _message_changed(
    message: dict[str, Any], previous: dict[str, Any], *, channel: str, event_ts: str
) -> dict[str, Any]:
    return {
        "type": "message",
        "subtype": "message_changed",
        "message": message,
        "previous_message": previous,
        "channel": channel,
        "hidden": True,
        "ts": event_ts,
        "event_ts": event_ts,
        "channel_type": "channel",
    }


def slack_message_changed(
    *,
    ts: str,
    new_text: str,
    old_text: str = "original",
    user: str = "U111",
    channel: str = "C111",
    thread_ts: str | None = None,
    edit_ts: str | None = None,
    team: str = SLACK_TEAM_ID,
) -> dict[str, Any]:
    """An edit: the new version in ``message`` (``ts`` = the original ts), the old one in ``previous_message``."""
    edit_ts = edit_ts or next_slack_ts()
    message = {**_version(new_text, user, team, ts), "edited": {"user": user, "ts": edit_ts}}
    previous = _version(old_text, user, team, ts)
    if thread_ts:
        message["thread_ts"] = previous["thread_ts"] = thread_ts
    return _message_changed(message, previous, channel=channel, event_ts=edit_ts)


def slack_link_unfurled(
    *,
    ts: str,
    text: str,
    url: str = "https://www.ipem.ac.uk/",
    user: str = "U111",
    channel: str = "C111",
    thread_ts: str | None = None,
    subtype: str | None = None,
    event_ts: str | None = None,
    team: str = SLACK_TEAM_ID,
) -> dict[str, Any]:
    """The ``message_changed`` Slack sends itself when it adds a link preview (an unfurl) to a member's message.

    Shaped like the ones Slack delivers: the member's text unchanged, ``attachments`` added, and no ``edited`` (a
    member's own edit always carries ``edited``). ``subtype="thread_broadcast"`` gives the message_changed Slack sends
    right after a reply also sent to the channel, which has no attachment and no ``edited`` either.
    """
    message = {**_version(text, user, team, ts), "client_msg_id": f"msg-{ts}"}
    if thread_ts:
        message["thread_ts"] = thread_ts
    if subtype:
        message["subtype"] = subtype
    previous = dict(message)
    if subtype is None:
        preview = {"title": "Institute of Physics and Engineering in Medicine", "service_name": "IPEM"}
        message["attachments"] = [
            {
                "id": 1,
                "fallback": f"{preview['service_name']}: {preview['title']}",
                "from_url": url,
                "original_url": url,
                "service_icon": url + "favicon.ico",
                "title_link": url,
                "text": "The professional body for physicists, engineers and technologists in medicine.",
                **preview,
            }
        ]
    return _message_changed(message, previous, channel=channel, event_ts=event_ts or next_slack_ts())


def slack_message_deleted(
    *,
    deleted_ts: str,
    user: str = "U111",
    channel: str = "C111",
    old_text: str = "original",
    thread_ts: str | None = None,
    event_ts: str | None = None,
    team: str = SLACK_TEAM_ID,
) -> dict[str, Any]:
    event_ts = event_ts or next_slack_ts()
    previous: dict[str, Any] = {"type": "message", "text": old_text, "user": user, "team": team, "ts": deleted_ts}
    if thread_ts:
        previous["thread_ts"] = thread_ts
    return {
        "type": "message",
        "subtype": "message_deleted",
        "previous_message": previous,
        "channel": channel,
        "hidden": True,
        "deleted_ts": deleted_ts,
        "event_ts": event_ts,
        "ts": event_ts,
        "channel_type": "channel",
    }


def _reaction(
    kind: str, reaction: str, user: str, channel: str, ts: str, item_user: str, event_ts: str | None
) -> dict[str, Any]:
    return {
        "type": kind,
        "user": user,
        "item": {"type": "message", "channel": channel, "ts": ts},
        "reaction": reaction,
        "item_user": item_user,
        "event_ts": event_ts or next_slack_ts(),
    }


def slack_reaction_added(
    reaction: str,
    *,
    ts: str,
    user: str = "U111",
    channel: str = "C111",
    item_user: str = SLACK_BOT_USER_ID,
    event_ts: str | None = None,
) -> dict[str, Any]:
    return _reaction("reaction_added", reaction, user, channel, ts, item_user, event_ts)


def slack_reaction_removed(
    reaction: str,
    *,
    ts: str,
    user: str = "U111",
    channel: str = "C111",
    item_user: str = SLACK_BOT_USER_ID,
    event_ts: str | None = None,
) -> dict[str, Any]:
    return _reaction("reaction_removed", reaction, user, channel, ts, item_user, event_ts)
