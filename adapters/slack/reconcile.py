"""Reconciliation after downtime: Slack stops retrying an event after a few attempts, so what members did while the
bot was down is lost unless it looks. For each Slack post of the last ``reconcile_days`` days this reads the thread
(``conversations.replies``, paginated) and the reactions (``reactions.get``) of the post and of each known reply, and
brings the database in line through :class:`bot.capture.Capture`, so every SPEC §7 rule applies (opt-outs, dedupe by
``ts``, deletion tombstones, the bot's own messages ignored):

- a reply missing from the database is added, at its ``ts`` (as edited, with ``edited.ts``, if it was edited);
- a stored reply whose text Slack shows edited gets the new text and the edit's time;
- a stored reply no longer in the thread is deleted (with its reactions), like a ``message_deleted`` event;
- a reaction missing from the database is added. Slack does not say when a reaction was added, so it gets the time
  of the message reacted to (or, if the same reaction was removed before, just after that removal);
- a counted reaction Slack no longer lists is removed.

Only what was in Slack before the thread was read is judged missing, so an event delivered during reconciliation
is never undone. Calls pause between each other and 429s wait for ``Retry-After`` (the client's retry handler).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Protocol

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.mapping import MalformedPayload, edit_from_slack, reply_from_slack
from adapters.slack.probe import error_name
from bot.capture import Capture, Outcome
from bot.errors import AdapterError
from bot.events import (
    CaptureEvent,
    Platform,
    ReactionAdded,
    ReactionRemoved,
    ReplyDeleted,
    ReplyEdited,
    member_id,
    parse_member_id,
)
from bot.model import PostRecord, ReactionRecord, ReplyRecord
from bot.scheduler import Clock, SystemClock
from bot.timeutil import from_slack_ts

logger = logging.getLogger("adapters.reconcile")  # the name its log lines have always had

DEFAULT_PAUSE_SECONDS = 1.2  # ~50 calls a minute: Slack's Tier 3, which conversations.replies and reactions.get share
PAGE_SIZE = 200
SETTLE = timedelta(seconds=60)  # what happened this close to reading the thread may still be on its way as an event
ONE_MICROSECOND = timedelta(microseconds=1)
API_ERRORS = (SlackApiError, aiohttp.ClientError, TimeoutError)

Progress = Callable[[int, int], None]
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class ReconcileResult:
    posts: int = 0
    replies_added: int = 0
    replies_edited: int = 0
    replies_deleted: int = 0
    reactions_added: int = 0
    reactions_removed: int = 0
    posts_failed: int = 0  # a Slack call failed: nothing was changed for that post

    def as_log(self) -> str:
        return " ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))


class ReconcileStore(Protocol):
    """What reconciliation reads from storage (``storage.repository.Repository`` has it); it writes through Capture."""

    def recent_posts(self, platform: Platform, since: datetime) -> list[PostRecord]: ...
    def post_replies(self, post_id: int) -> list[ReplyRecord]: ...
    def find_reply(self, platform: Platform, channel_id: str, message_id: str) -> ReplyRecord | None: ...
    def reactions_on(self, platform: Platform, channel_id: str, target_id: str) -> list[ReactionRecord]: ...


@dataclass(frozen=True, slots=True)
class Identity:
    user_id: str | None
    bot_id: str | None


class Reconciler:
    """Reconciles the Slack posts of the last ``days`` days; ``run`` may be called again (daily)."""

    def __init__(
        self,
        client: AsyncWebClient,
        store: ReconcileStore,
        capture: Capture,
        *,
        days: int,
        pause: float | None = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        self.client = client  # the adapter's: its retry handlers honour 429 Retry-After and retry 5xx
        self.store = store
        self.capture = capture
        self.days = days  # the default period, in days back from now
        self.pause = DEFAULT_PAUSE_SECONDS if pause is None else pause
        self.clock = clock or SystemClock()
        self.sleep = sleep or asyncio.sleep
        self._calls = 0

    async def run(self, days: int | None = None, progress: Progress | None = None) -> ReconcileResult:
        days = self.days if days is None else days
        result = ReconcileResult()
        posts = self.store.recent_posts(Platform.SLACK, self.clock.now() - timedelta(days=days))
        if progress is not None:
            progress(0, len(posts))
        if posts:
            identity = await self._identity()
            for done, post in enumerate(posts, start=1):
                try:
                    await self._post(post, identity, result)
                except API_ERRORS as err:  # only the error's code: a Slack error body can quote messages
                    result.posts_failed += 1
                    logger.warning("reconcile post failed post_id=%s error=%s", post.id, error_name(err))
                except MalformedPayload:
                    result.posts_failed += 1
                    logger.warning("reconcile post failed post_id=%s error=malformed_response", post.id)
                result.posts += 1
                if progress is not None:
                    progress(done, len(posts))
        logger.info("reconcile days=%d %s", days, result.as_log())
        return result

    # -- Slack calls --------------------------------------------------------------------------------------------------

    async def _api(self, call: Callable[..., Awaitable[Any]], **kwargs: Any) -> Mapping[str, Any]:
        if self._calls and self.pause > 0:
            await self.sleep(self.pause)  # spread the calls out: reconciliation is never in a hurry
        self._calls += 1
        response = await call(**kwargs)
        data = response.data if hasattr(response, "data") else response
        if not isinstance(data, dict):
            raise MalformedPayload("Slack answered with something other than a JSON object")
        return data

    async def _identity(self) -> Identity:
        try:
            data = await self._api(self.client.auth_test)
        except API_ERRORS as err:
            raise AdapterError(f"Slack auth.test failed: {error_name(err)}") from None
        user, bot = data.get("user_id"), data.get("bot_id")
        return Identity(user if isinstance(user, str) else None, bot if isinstance(bot, str) else None)

    async def _thread(self, post: PostRecord) -> list[dict[str, Any]]:
        """Every message of the post's thread, following ``next_cursor``."""
        messages: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            args: dict[str, Any] = {"channel": post.channel_id, "ts": post.message_id, "limit": PAGE_SIZE}
            if cursor:
                args["cursor"] = cursor
            data = await self._api(self.client.conversations_replies, **args)
            page = data.get("messages") or []
            if not isinstance(page, list):
                raise MalformedPayload("conversations.replies without a messages list")
            messages.extend(m for m in page if isinstance(m, dict))
            meta = data.get("response_metadata")
            cursor = meta.get("next_cursor") if isinstance(meta, dict) else None
            if not cursor or not isinstance(cursor, str):
                return messages

    async def _reactions(self, post: PostRecord, ts: str, identity: Identity) -> set[tuple[str, str]]:
        """(user id, reaction name) of every reaction Slack lists on one message, the app's own left out."""
        data = await self._api(self.client.reactions_get, channel=post.channel_id, timestamp=ts, full=True)
        message = data.get("message")
        listed = message.get("reactions") if isinstance(message, dict) else None
        found: set[tuple[str, str]] = set()
        for reaction in listed if isinstance(listed, list) else []:
            if not isinstance(reaction, dict) or not isinstance(reaction.get("name"), str):
                continue
            users = reaction.get("users")
            for user in users if isinstance(users, list) else []:
                if isinstance(user, str) and user and user != identity.user_id:
                    found.add((user, reaction["name"]))
        return found

    # -- one post ------------------------------------------------------------------------------------------------

    async def _post(self, post: PostRecord, identity: Identity, result: ReconcileResult) -> None:
        read_at = self.clock.now()
        messages = await self._thread(post)
        listed = {m["ts"] for m in messages if isinstance(m.get("ts"), str)}
        for message in messages:
            self._reply(post, message, identity, result)
        # Stored replies Slack no longer has were deleted while nobody listened.
        for reply in self.store.post_replies(post.id):
            if reply.message_id not in listed and reply.created_at < read_at - SETTLE:
                event = ReplyDeleted(
                    platform=Platform.SLACK,
                    channel_id=post.channel_id,
                    occurred_at=max(read_at, reply.created_at),
                    message_id=reply.message_id,
                    thread_id=post.message_id,
                )
                if self._apply(event):
                    result.replies_deleted += 1
        targets = [post.message_id] + [r.message_id for r in self.store.post_replies(post.id)]
        for target in targets:
            await self._target_reactions(post, target, identity, result)

    def _reply(self, post: PostRecord, message: dict[str, Any], identity: Identity, result: ReconcileResult) -> None:
        event_body = {"event": {**message, "channel": post.channel_id}}
        try:
            posted = reply_from_slack(event_body)
        except MalformedPayload:
            logger.info("reconcile skipped a malformed message post_id=%s", post.id)
            return
        if posted is None or posted.thread_id != post.message_id or posted.user_id == identity.user_id:
            return  # the root, a bot's or the app's own message, or not a member's reply
        edit = self._edit(post, message)
        stored = self.store.find_reply(Platform.SLACK, post.channel_id, posted.message_id)
        if stored is None:
            if self._apply(edit or posted):
                result.replies_added += 1
        elif edit is not None and stored.text != edit.text and self._apply(edit):
            result.replies_edited += 1

    def _edit(self, post: PostRecord, message: dict[str, Any]) -> ReplyEdited | None:
        edited = message.get("edited")
        if not isinstance(edited, dict) or not isinstance(edited.get("ts"), str):
            return None
        body = {
            "event": {
                "type": "message",
                "subtype": "message_changed",
                "channel": post.channel_id,
                "ts": edited["ts"],
                "message": message,
            }
        }
        try:
            edit = edit_from_slack(body)
        except MalformedPayload:
            return None
        return edit if isinstance(edit, ReplyEdited) else None

    async def _target_reactions(
        self, post: PostRecord, target: str, identity: Identity, result: ReconcileResult
    ) -> None:
        read_at = self.clock.now()
        listed = await self._reactions(post, target, identity)
        stored = {(r.member_id, r.name): r for r in self.store.reactions_on(Platform.SLACK, post.channel_id, target)}
        target_at = from_slack_ts(target)
        common: dict[str, Any] = {
            "platform": Platform.SLACK,
            "channel_id": post.channel_id,
            "target_id": target,
            "target_at": target_at,
        }
        for user, name in sorted(listed):
            row = stored.get((member_id(Platform.SLACK, user), name))
            if row is not None and row.removed_at is None:
                continue  # already there
            at = target_at  # Slack gives no time for a reaction: that of the message reacted to
            if row is not None:
                at = max(at, max(row.created_at, row.removed_at or row.created_at) + ONE_MICROSECOND)
            if self._apply(ReactionAdded(occurred_at=at, user_id=user, name=name, **common)):
                result.reactions_added += 1
        present = {(member_id(Platform.SLACK, user), name) for user, name in listed}
        for (member, name), row in stored.items():
            if row.removed_at is not None or row.post_id is None or (member, name) in present:
                continue
            if row.created_at >= read_at - SETTLE:
                continue  # added just now: its event may be newer than what Slack showed us
            _, user = parse_member_id(member)
            at = max(read_at, row.created_at + ONE_MICROSECOND)
            if self._apply(ReactionRemoved(occurred_at=at, user_id=user, name=name, **common)):
                result.reactions_removed += 1

    def _apply(self, event: CaptureEvent) -> bool:
        return self.capture.apply(event) is Outcome.STORED
