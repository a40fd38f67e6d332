"""What the capture rules (:mod:`bot.capture`) need of storage, and the outcome of applying one event.

Storage implements :class:`CaptureStore` (``storage.repository.Repository``); every method runs inside the store's
``transaction()``. A store with a writer thread also offers ``submit`` (:class:`Submit`): the rules then run there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from bot.events import Platform
from bot.model import MemberGate, PostRecord, ReactionRecord, ReactionState, ReplyRecord, ReplyTarget

__all__ = ["CaptureStore", "Outcome", "Submit"]


class Outcome(StrEnum):
    STORED = "stored"  # the event changed the database
    DUPLICATE = "duplicate"  # seen before (retry or second delivery): nothing changed
    IGNORED = "ignored"  # not part of a prompt's thread, or nothing to change
    OPTED_OUT = "opted_out"  # the member opted out (or has not opted in): nothing of theirs is stored
    BEFORE_OPT_IN = "before_opt_in"  # it happened before the member's latest opt-in or opt-out: never stored


class CaptureStore(Protocol):
    """What the capture rules need from storage. Every method runs inside ``transaction()``."""

    def transaction(self) -> AbstractContextManager[None]: ...
    def mark_event_seen(self, event_key: str, platform: Platform) -> bool: ...
    def unmark_event_seen(self, event_key: str) -> None: ...
    def member_gate(self, member: str) -> MemberGate: ...
    def reply_target(self, platform: Platform, channel_id: str, message_id: str, member: str) -> ReplyTarget: ...
    def reaction_state(
        self, platform: Platform, channel_id: str, target_id: str, member: str, name: str
    ) -> ReactionState: ...
    def text_purged_before(self) -> datetime | None: ...
    def find_post(self, platform: Platform, channel_id: str, message_id: str) -> PostRecord | None: ...
    def first_post_at(self, platform: Platform, channel_id: str) -> datetime | None: ...
    def find_reply(self, platform: Platform, channel_id: str, message_id: str) -> ReplyRecord | None: ...
    def find_reply_or_deletion(
        self, platform: Platform, channel_id: str, message_id: str
    ) -> tuple[ReplyRecord | None, bool]: ...
    def is_deleted(self, platform: Platform, channel_id: str, message_id: str) -> bool: ...
    def mark_deleted(self, platform: Platform, channel_id: str, message_id: str, at: datetime) -> None: ...
    def mark_restored(self, platform: Platform, channel_id: str, message_id: str, at: datetime) -> None: ...
    def restored_since(self, platform: Platform, channel_id: str, message_id: str, at: datetime) -> bool: ...
    def upsert_member(self, member: str, platform: Platform, user_id: str, display_name: str | None) -> None: ...
    def insert_reply(
        self, post: PostRecord, message_id: str, member: str, text: str, at: datetime, edited_at: datetime | None
    ) -> ReplyRecord: ...
    def update_reply_text(self, reply_id: int, text: str, edited_at: datetime) -> bool: ...
    def delete_reply(self, reply_id: int) -> None: ...
    def resolve_reactions(
        self, platform: Platform, channel_id: str, target_id: str, post_id: int, reply_id: int | None
    ) -> list[ReactionRecord]: ...
    def set_reaction(
        self,
        *,
        platform: Platform,
        channel_id: str,
        target_id: str,
        member: str,
        name: str,
        at: datetime,
        present: bool,
        post_id: int | None,
        reply_id: int | None,
        known: ReactionState | None = None,
    ) -> bool: ...
    def has_counted_reaction(self, member: str, name: str) -> bool: ...
    def consent_word(self, member: str, kind: str, given: bool, at: datetime) -> bool: ...


class Submit(Protocol):
    """A store's writer (``storage.db.SQLiteDatabase.submit``): runs ``work`` atomically, returns once committed."""

    def __call__(self, work: Callable[[], list[Outcome]]) -> Awaitable[list[Outcome]]: ...
