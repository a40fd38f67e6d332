"""Asking Slack about engagebot's own setup: are its tokens accepted, and may the bot post in a channel.

Used when Socket Mode connects (a token Slack refuses stops ``serve``) and by ``engagebot check``. A refused token
raises :class:`TokenRefused`, whose ``config_error`` names the variable and the fix; Slack being unreachable or failing
raises one of :data:`API_ERRORS`, which is worth trying again later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import ConfigError

__all__ = [
    "API_ERRORS",
    "APP_TOKEN_FIX",
    "BOT_TOKEN_FIX",
    "BotIdentity",
    "ChannelAccess",
    "TokenRefused",
    "channel_access",
    "error_name",
    "open_socket_url",
    "verify_bot_token",
]

API_ERRORS = (SlackApiError, aiohttp.ClientError, TimeoutError, OSError)
ERROR_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")  # Slack's error codes: "ratelimited", "thread_not_found", ...

# What Slack answers when the token itself is unusable: no retry can help, only a new token (the same list as
# Slack's own Socket Mode client treats as unrecoverable at start, plus revoked, expired and wrong kinds of token).
REFUSED = frozenset(
    {
        "not_authed",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "user_removed_from_team",
        "team_disabled",
        "not_allowed_token_type",
        "missing_scope",
    }
)
BOT_TOKEN_FIX = (
    "copy the Bot User OAuth Token (xoxb-…) from your Slack app's OAuth & Permissions page "
    "(reinstall the app to the workspace if it was removed)"
)
APP_TOKEN_FIX = (
    "generate an app-level token with the connections:write scope on your Slack app's Basic Information page "
    "(App-Level Tokens) and check that Socket Mode is enabled"
)


def error_name(err: BaseException) -> str:
    """Slack's error code, ``http_<status>``, or the exception's type: never text that could quote a payload."""
    if isinstance(err, SlackApiError):
        data = err.response.data if hasattr(err.response, "data") else None
        code = data.get("error") if isinstance(data, dict) else None
        if isinstance(code, str) and ERROR_CODE.match(code):
            return code
        return f"http_{err.response.status_code}"  # no code, or not one of Slack's: never echo it
    return type(err).__name__


class TokenRefused(Exception):
    """Slack refused one of engagebot's tokens (``key`` names its variable)."""

    def __init__(self, key: str, error: str, fix: str) -> None:
        super().__init__(f"{key}: {error}")
        self.key = key
        self.error = error
        self.fix = fix

    def config_error(self) -> ConfigError:
        return ConfigError(f"Slack refused this token ({self.error}): {self.fix}", key=self.key)


def _refused(err: BaseException, key: str, fix: str) -> TokenRefused | None:
    code = error_name(err)
    return TokenRefused(key, code, fix) if code in REFUSED else None


@dataclass(frozen=True, slots=True)
class BotIdentity:
    """Who the bot token signs in as (``auth.test``)."""

    user: str
    team: str
    user_id: str


async def verify_bot_token(client: AsyncWebClient) -> BotIdentity:
    """``auth.test`` with the bot token."""
    try:
        data: Any = (await client.auth_test()).data
    except SlackApiError as err:
        raise _refused(err, "SLACK_BOT_TOKEN", BOT_TOKEN_FIX) or err from None
    data = data if isinstance(data, dict) else {}
    return BotIdentity(str(data.get("user") or "?"), str(data.get("team") or "?"), str(data.get("user_id") or "?"))


async def open_socket_url(client: AsyncWebClient, app_token: str) -> str:
    """``apps.connections.open`` with the app-level token: the WebSocket URL of a new Socket Mode connection."""
    try:
        data: Any = (await client.apps_connections_open(app_token=app_token)).data
    except SlackApiError as err:
        raise _refused(err, "SLACK_APP_TOKEN", APP_TOKEN_FIX) or err from None
    url = data.get("url") if isinstance(data, dict) else None
    if not isinstance(url, str) or not url.startswith(("wss://", "ws://")):
        raise aiohttp.ClientError("apps.connections.open gave no WebSocket URL")
    return url


@dataclass(frozen=True, slots=True)
class ChannelAccess:
    """Whether the bot may post in a channel; ``problem`` is what stops it, with the fix."""

    name: str | None
    problem: str | None


CHANNEL_PROBLEMS = {
    "channel_not_found": "not found: check the id, and for a private channel invite the bot first (/invite @bot)",
    "missing_scope": "engagebot cannot see it: the app lacks the channels:read (or groups:read) scope; add it from "
    "the manifest and reinstall the app",
}


async def channel_access(client: AsyncWebClient, channel_id: str) -> ChannelAccess:
    """``conversations.info``: a channel the bot is a member of, and not archived, is one it can post in."""
    try:
        data: Any = (await client.conversations_info(channel=channel_id)).data
    except SlackApiError as err:
        code = error_name(err)
        if code in CHANNEL_PROBLEMS:
            return ChannelAccess(None, CHANNEL_PROBLEMS[code])
        raise
    channel = data.get("channel") if isinstance(data, dict) else None
    channel = channel if isinstance(channel, dict) else {}
    name = channel.get("name") if isinstance(channel.get("name"), str) else None
    if channel.get("is_archived"):
        return ChannelAccess(name, "the channel is archived: unarchive it or configure another one")
    if not channel.get("is_member"):
        return ChannelAccess(name, "the bot is not a member: type /invite @ followed by the bot's name in the channel")
    return ChannelAccess(name, None)
