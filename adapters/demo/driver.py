"""The demo's driver: a simulated thread's replies, reactions, edits and deletions sent to the running bot as
signed Slack events and Bot Framework activities over HTTP, and a tally of what it expects to be counted.

One module because the Slack and Teams halves play the same thread plan into the same tally: kept side by side, the
two platforms' payloads stay in step.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.test_utils import TestClient

from adapters.demo.standins import BOT_ID, TEAMS_CHANNEL, TEAMS_TEAM, TEAMS_TENANT, DemoClock, slack_ts
from bot.demo import DemoMember, ThreadPlan
from bot.events import Platform


@dataclass(frozen=True, slots=True)
class Expected:
    """One reply or reaction the simulation expects to be counted (after edits and deletions)."""

    platform: Platform
    member_id: str
    at: datetime
    reaction: str | None  # None for a reply


@dataclass
class DemoTotals:
    """What the simulation sent, for the closing lines, and what it expects counted (for the tests)."""

    posts: int = 0
    slack_events: int = 0
    teams_activities: int = 0
    expected: list[Expected] = field(default_factory=list)

    def expect(self, plan: ThreadPlan) -> None:
        deleted = {reply.message_id for reply, _ in plan.deletions}
        for reply in plan.replies:
            if reply.message_id not in deleted:
                self.expected.append(Expected(reply.member.platform, _member(reply.member), reply.at, None))
        seen: set[tuple[str, str, str]] = set()
        for reaction in plan.reactions:
            key = (reaction.member.user_id, reaction.target_id, reaction.name)
            if reaction.target_id in deleted or key in seen:
                continue
            seen.add(key)
            self.expected.append(
                Expected(reaction.member.platform, _member(reaction.member), reaction.at, reaction.name)
            )


def _member(member: DemoMember) -> str:
    return f"{member.platform.value}:{member.user_id}"


class Simulation:
    """Sends what members do to the bot under test, through its HTTP routes."""

    def __init__(
        self,
        client: TestClient[web.Request, web.Application],
        secret: str,
        service_url: str,
        clock: DemoClock,
        *,
        response_url: str,
        quote_emoji: str,
    ) -> None:
        self.client = client
        self.secret = secret
        self.service_url = service_url
        self.clock = clock
        self.response_url = response_url  # where Slack's slash commands say their late answers go
        self.quote_emoji = quote_emoji
        self.totals = DemoTotals()
        self.serial = 0
        self.consented: set[str] = set()  # members who have agreed to be quoted

    async def slack(self, event: dict[str, Any]) -> None:
        self.serial += 1
        body = json.dumps(
            {
                "type": "event_callback",
                "team_id": "TDEMO",
                "api_app_id": "ADEMO",
                "event": event,
                "event_id": f"EvDEMO{self.serial:08d}",
                "event_time": int(self.clock.now().timestamp()),
            }
        )
        await self._signed(body, "application/json")

    async def _signed(self, body: str, content_type: str) -> None:
        """POST ``body`` to /slack/events signed as Slack signs it (v0 HMAC-SHA256 of the timestamp and body)."""
        stamp = str(int(time.time()))
        signature = "v0=" + hmac.new(self.secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
        response = await self.client.post(
            "/slack/events",
            data=body,
            headers={
                "Content-Type": content_type,
                "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": signature,
            },
        )
        if response.status != 200:
            raise RuntimeError(f"demo Slack request refused: HTTP {response.status}")
        self.totals.slack_events += 1

    async def play_consents(self, plan: ThreadPlan, channel: str) -> None:
        """Members agreeing to be quoted, each once: `/engage quote ok` on Slack, `quote ok` in a Teams personal chat,
        or (on Slack) the quote emoji on the prompt, which is also a counted reaction."""
        for consent in plan.consents:
            member = consent.member
            if _member(member) in self.consented:
                continue
            self.consented.add(_member(member))
            if consent.via == "emoji" and consent.target_id:
                await self.slack(
                    {
                        "type": "reaction_added",
                        "user": member.user_id,
                        "reaction": self.quote_emoji,
                        "item": {"type": "message", "channel": channel, "ts": consent.target_id},
                        "event_ts": slack_ts(consent.at),
                    }
                )
                self.totals.expected.append(Expected(member.platform, _member(member), consent.at, self.quote_emoji))
            elif member.platform is Platform.SLACK:
                command = {"team_id": "TDEMO", "channel_id": channel, "user_id": member.user_id, "command": "/engage"}
                command.update({"text": "quote ok", "response_url": self.response_url, "trigger_id": "demo"})
                await self._signed(urlencode(command), "application/x-www-form-urlencoded")
            else:
                self.serial += 1
                chat = {"id": f"a:demo-chat-{member.user_id}", "conversationType": "personal", "tenantId": TEAMS_TENANT}
                await self.teams(
                    {
                        "type": "message",
                        "id": f"demo-chat-{self.serial}",
                        "timestamp": consent.at.isoformat(),
                        "text": "quote ok",
                        "from": {"id": member.user_id, "name": member.name},
                        "conversation": chat,
                        "channelData": {"tenant": {"id": TEAMS_TENANT}},
                    }
                )

    async def teams(self, activity: dict[str, Any]) -> None:
        activity = {
            "channelId": "msteams",
            "serviceUrl": self.service_url,
            "recipient": {"id": BOT_ID, "name": "engagebot"},
            **activity,
        }
        response = await self.client.post("/api/messages", json=activity)
        if response.status >= 300:
            raise RuntimeError(f"demo Teams activity refused: HTTP {response.status}")
        self.totals.teams_activities += 1

    def _teams_channel(self, root: str | None = None) -> dict[str, Any]:
        conversation = {
            "id": f"{TEAMS_CHANNEL};messageid={root}" if root else TEAMS_CHANNEL,
            "conversationType": "channel",
            "isGroup": True,
            "tenantId": TEAMS_TENANT,
        }
        return {
            "conversation": conversation,
            "channelData": {
                "teamsChannelId": TEAMS_CHANNEL,
                "teamsTeamId": TEAMS_TEAM,
                "channel": {"id": TEAMS_CHANNEL},
                "team": {"id": TEAMS_TEAM},
                "tenant": {"id": TEAMS_TENANT},
            },
        }

    async def install_teams(self) -> None:
        self.serial += 1
        await self.teams(
            {
                "type": "conversationUpdate",
                "id": f"install-{self.serial}",
                "timestamp": self.clock.now().isoformat(),
                "from": {"id": "29:1demoadmin"},
                "membersAdded": [{"id": BOT_ID}],
                **self._teams_channel(),
            }
        )

    async def play_slack(self, plan: ThreadPlan, post_ts: str, channel: str) -> None:
        for reply in plan.replies:
            event = {
                "type": "message",
                "channel": channel,
                "user": reply.member.user_id,
                "text": reply.text,
                "ts": reply.message_id,
                "thread_ts": post_ts,
                "parent_user_id": "UDEMOBOT",
                "event_ts": reply.message_id,
                "channel_type": "channel",
            }
            await self.slack(event)
        for reaction in plan.reactions:
            await self.slack(
                {
                    "type": "reaction_added",
                    "user": reaction.member.user_id,
                    "reaction": reaction.name,
                    "item": {"type": "message", "channel": channel, "ts": reaction.target_id},
                    "event_ts": slack_ts(reaction.at),
                }
            )
        for reply, at, text in plan.edits:
            await self.slack(
                {
                    "type": "message",
                    "subtype": "message_changed",
                    "hidden": True,
                    "channel": channel,
                    "ts": slack_ts(at),
                    "event_ts": slack_ts(at),
                    "message": {
                        "type": "message",
                        "user": reply.member.user_id,
                        "text": text,
                        "ts": reply.message_id,
                        "thread_ts": post_ts,
                        "edited": {"user": reply.member.user_id, "ts": slack_ts(at)},
                    },
                    "previous_message": {
                        "type": "message",
                        "user": reply.member.user_id,
                        "ts": reply.message_id,
                        "thread_ts": post_ts,
                    },
                }
            )
        for reply, at in plan.deletions:
            await self.slack(
                {
                    "type": "message",
                    "subtype": "message_deleted",
                    "hidden": True,
                    "channel": channel,
                    "ts": slack_ts(at),
                    "event_ts": slack_ts(at),
                    "deleted_ts": reply.message_id,
                    "previous_message": {
                        "type": "message",
                        "user": reply.member.user_id,
                        "ts": reply.message_id,
                        "thread_ts": post_ts,
                    },
                }
            )

    async def play_teams(self, plan: ThreadPlan, post_id: str) -> None:
        def sender(member: DemoMember) -> dict[str, Any]:
            return {"from": {"id": member.user_id, "name": member.name, "aadObjectId": f"aad-{member.user_id[-4:]}"}}

        for reply in plan.replies:
            await self.teams(
                {
                    "type": "message",
                    "id": reply.message_id,
                    "timestamp": reply.at.isoformat(),
                    "text": reply.text,
                    "textFormat": "plain",
                    **sender(reply.member),
                    **self._teams_channel(post_id),
                }
            )
        for reaction in plan.reactions:
            self.serial += 1
            await self.teams(
                {
                    "type": "messageReaction",
                    "id": f"reaction-{self.serial}",
                    "timestamp": reaction.at.isoformat(),
                    "replyToId": reaction.target_id,
                    "reactionsAdded": [{"type": reaction.name}],
                    **sender(reaction.member),
                    **self._teams_channel(post_id),
                }
            )
        for reply, at, text in plan.edits:
            channel = self._teams_channel(post_id)
            channel["channelData"]["eventType"] = "editMessage"
            self.serial += 1
            await self.teams(
                {
                    "type": "messageUpdate",
                    "id": reply.message_id,
                    "timestamp": at.isoformat(),
                    "text": text,
                    **sender(reply.member),
                    **channel,
                }
            )
        for reply, at in plan.deletions:
            channel = self._teams_channel(post_id)
            channel["channelData"]["eventType"] = "softDeleteMessage"
            await self.teams(
                {
                    "type": "messageDelete",
                    "id": reply.message_id,
                    "timestamp": at.isoformat(),
                    **sender(reply.member),
                    **channel,
                }
            )
