"""The ingest benchmark's events and its load generator.

A :class:`Plan` turns an event number into one delivery (the request body, and what must be in the database once it
is acknowledged), deterministically, so the generator process (which sends) and the benchmark process (which checks
the database) build the very same events. Two thirds of the events are thread replies to a prompt, one third
reactions to the prompt itself, as a burst after a prompt arrives.

Member profiles:

- ``returning``: 500 members who come back. The warm-up (:func:`warmup_size`) has every one of them act once, so
  their rows and display names exist before the timed runs.
- ``first-time``: every event comes from a member engagebot has never seen (a new ``members`` row each, and for
  Slack a display name to learn).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import multiprocessing
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any

SECRET = "bench-ingest-signing-secret"
PROFILES = ("returning", "first-time")
RETURNING_MEMBERS = 500
CHANNELS = 4  # per platform
POSTS_PER_CHANNEL = 2
SLACK_NAMES = ("+1", "heart", "tada", "eyes", "raised_hands", "clap", "100", "fire")
TEAMS_NAMES = ("like", "heart", "laugh", "surprised", "sad", "angry")
TEAM_ID = "19:team-bench000000000000000000000001@thread.tacv2"
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
WORDS = ("we", "tried", "this", "in", "our", "department", "and", "the", "main", "barrier", "was", "time", "staff")
POSTS = [(c, c * POSTS_PER_CHANNEL + p) for c in range(CHANNELS) for p in range(POSTS_PER_CHANNEL)]


def slack_channel(index: int) -> str:
    return f"CBENCH{index:04d}"


def teams_channel(index: int) -> str:
    return f"19:bench{index:028d}@thread.tacv2"


def slack_post_ts(epoch: int, index: int) -> str:
    return f"{epoch - 86_400}.{index:06d}"


def teams_post_id(epoch: int, index: int) -> str:
    return str((epoch - 86_400) * 1000 + index)


def warmup_size(profile: str) -> int:
    """Events before the timed runs: for ``returning``, enough that each of the 500 members has acted."""
    return 3 * RETURNING_MEMBERS if profile == "returning" else 150


@dataclass(frozen=True, slots=True)
class Event:
    """One planned delivery: its body, and what must be in the database once it is acknowledged."""

    body: bytes
    table: str  # "replies" or "reactions"
    key: tuple[str, ...]  # replies: (channel, message id); reactions: (channel, target, member, name)


@dataclass(frozen=True, slots=True)
class Plan:
    """The events of one benchmark cell (platform x member profile). ``epoch``: event times are an hour old."""

    platform: str  # "slack" or "teams"
    profile: str  # one of PROFILES
    epoch: int
    service_url: str = "http://127.0.0.1:9/"

    def event(self, number: int) -> Event:
        return self._slack(number) if self.platform == "slack" else self._teams(number)

    # -- who, where --------------------------------------------------------------------------------------------

    def _shape(self, number: int) -> tuple[bool, int, int, int]:
        """(is a reaction, channel index, post index, name index); reactions' keys stay distinct for 64,000 events."""
        k = number // 3
        if number % 3 == 2:
            names = len(SLACK_NAMES if self.platform == "slack" else TEAMS_NAMES)
            channel, post = POSTS[(k // (RETURNING_MEMBERS * names)) % len(POSTS)]
            return True, channel, post, (k // RETURNING_MEMBERS) % names
        channel, post = POSTS[number % len(POSTS)]
        return False, channel, post, 0

    def _member(self, number: int) -> int:
        if self.profile == "first-time":
            return 1_000_000 + number
        k = number // 3
        return k % RETURNING_MEMBERS if number % 3 == 2 else (k * 13 + number % 3) % RETURNING_MEMBERS

    # -- Slack Events API ----------------------------------------------------------------------------------------

    def _slack(self, number: int) -> Event:
        is_reaction, channel_index, post, name_index = self._shape(number)
        channel = slack_channel(channel_index)
        user = f"UB{self._member(number):07d}"
        stamp = f"{self.epoch + number // 1_000_000}.{number % 1_000_000:06d}"
        key: tuple[str, ...]
        event: dict[str, Any]
        if not is_reaction:
            text = _text(number)
            event = {
                "type": "message",
                "client_msg_id": f"bench-{number}",
                "text": text,
                "user": user,
                "ts": stamp,
                "team": "TBENCH",
                "blocks": [
                    {
                        "type": "rich_text",
                        "block_id": "b1",
                        "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
                    }
                ],
                "channel": channel,
                "event_ts": stamp,
                "channel_type": "channel",
                "thread_ts": slack_post_ts(self.epoch, post),
                "parent_user_id": "UBOT",
            }
            table, key = "replies", (channel, stamp)
        else:
            target = slack_post_ts(self.epoch, post)
            name = SLACK_NAMES[name_index]
            event = {
                "type": "reaction_added",
                "user": user,
                "item": {"type": "message", "channel": channel, "ts": target},
                "reaction": name,
                "item_user": "UBOT",
                "event_ts": stamp,
            }
            table, key = "reactions", (channel, target, f"slack:{user}", name)
        envelope = {
            "token": "verification-token",
            "team_id": "TBENCH",
            "context_team_id": "TBENCH",
            "context_enterprise_id": None,
            "api_app_id": "ABENCH",
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{number:010d}",
            "event_time": self.epoch,
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": "TBENCH",
                    "user_id": "UBOT",
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{event['type']}-TBENCH-{channel}",
        }
        return Event(json.dumps(envelope).encode(), table, key)

    # -- Teams Bot Framework activities ----------------------------------------------------------------------------

    def _teams(self, number: int) -> Event:
        is_reaction, channel_index, post, name_index = self._shape(number)
        channel = teams_channel(channel_index)
        member = self._member(number)
        user = f"29:1bench-{member:07d}"
        root = teams_post_id(self.epoch, post)
        at = datetime.fromtimestamp(self.epoch, UTC) + timedelta(milliseconds=number)
        activity_id = str(self.epoch * 1000 + 10_000 + number)
        activity: dict[str, Any] = {
            "type": "messageReaction" if is_reaction else "message",
            "id": f"f:{activity_id}" if is_reaction else activity_id,
            "channelId": "msteams",
            "serviceUrl": self.service_url,
            "timestamp": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "from": {"id": user, "name": f"Member {member}", "aadObjectId": f"00000000-0000-4000-8000-{member:012d}"},
            "recipient": {"id": "28:engagebot-local", "name": "EngageBot"},
            "conversation": {
                "id": f"{channel};messageid={root}",
                "isGroup": True,
                "conversationType": "channel",
                "tenantId": TENANT_ID,
            },
            "channelData": {
                "teamsChannelId": channel,
                "teamsTeamId": TEAM_ID,
                "channel": {"id": channel},
                "team": {"id": TEAM_ID},
                "tenant": {"id": TENANT_ID},
            },
            "locale": "en-US",
        }
        if not is_reaction:
            text = _text(number)
            activity["text"] = text
            activity["textFormat"] = "plain"
            activity["entities"] = [{"type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web"}]
            activity["attachments"] = [{"contentType": "text/html", "content": f"<p>{text}</p>"}]
            return Event(json.dumps(activity).encode(), "replies", (channel, activity_id))
        name = TEAMS_NAMES[name_index]
        activity["replyToId"] = root
        activity["reactionsAdded"] = [{"type": name}]
        return Event(json.dumps(activity).encode(), "reactions", (channel, root, f"teams:{user}", name))


def _text(number: int) -> str:
    return " ".join(WORDS[(number * 7 + k) % len(WORDS)] for k in range(4 + number % 20))


# -- the load generator (runs in its own process) ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Load:
    url: str
    plan: Plan
    first: int
    count: int
    concurrency: int


def slack_headers(body: bytes) -> dict[str, str]:
    """Signed as Slack signs: at send time, ``v0=`` HMAC-SHA256 of ``v0:{timestamp}:{body}``."""
    timestamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest}",
    }


Results = tuple[list[tuple[int, int, float]], float]  # (event number, status, latency) of each request; wall time


async def _drive(load: Load) -> Results:
    import aiohttp

    bodies = [load.plan.event(number).body for number in range(load.first, load.first + load.count)]
    results: list[tuple[int, int, float]] = []
    cursor = iter(range(len(bodies)))
    connector = aiohttp.TCPConnector(limit=load.concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    slack = load.plan.platform == "slack"
    json_headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            for index in cursor:
                body = bodies[index]
                headers = slack_headers(body) if slack else json_headers
                began = time.perf_counter()
                try:
                    async with session.post(load.url, data=body, headers=headers) as response:
                        await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError):
                    status = 0
                results.append((load.first + index, status, time.perf_counter() - began))

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(load.concurrency)))
        elapsed = time.perf_counter() - began
    return results, elapsed


def generator_main(load: Load, pipe: Connection) -> None:
    """Entry point of the generator process: sends the events, returns each result and the wall time."""
    pipe.send(asyncio.run(_drive(load)))
    pipe.close()


def generate(load: Load) -> Results:
    """Run one load from a fresh generator process (spawned: nothing of this process's state is shared)."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=generator_main, args=(load, sender), name="ingest-load")
    process.start()
    sender.close()
    results: Results = receiver.recv()
    process.join()
    return results
