"""The ports the core depends on: storage and platform posting, as Protocols that adapters and storage satisfy."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from bot.capture_store import CaptureStore
from bot.events import Platform
from bot.model import ErasureCounts, PostRecord, ReactionRecord, ReplyRecord
from bot.prompts import Library, PostedPrompt, Prompt
from bot.report.model import ReportSource


class Store(CaptureStore, ReportSource, Protocol):
    """Everything the core asks of storage (implemented by ``storage.repository.Repository``)."""

    def sync_prompts(self, library: Library) -> None: ...
    def prompt_history(self, platform: Platform, channel_id: str) -> list[PostedPrompt]: ...
    def prompt_last_posted(self) -> dict[tuple[str, str], datetime]: ...
    def record_post(
        self, platform: Platform, channel_id: str, message_id: str, prompt: Prompt, posted_at: datetime
    ) -> PostRecord: ...
    def replies_between(self, start: datetime, end: datetime) -> list[ReplyRecord]: ...
    def reactions_between(self, start: datetime, end: datetime) -> list[ReactionRecord]: ...
    def member_names(self, members: Iterable[str]) -> dict[str, str]: ...
    def is_opted_out(self, member: str) -> bool: ...
    def opt_out(
        self, member: str, at: datetime, *, requested_by: str, reason: str, scrub_wait: float = ...
    ) -> ErasureCounts: ...
    def opt_in(self, member: str, at: datetime) -> bool: ...
    def set_consent(self, member: str, kind: str, given: bool, at: datetime) -> bool: ...
    def member_data(self, member: str) -> dict[str, Any]: ...
    def quote_candidates(self, start: datetime, end: datetime) -> list[dict[str, Any]]: ...
    def quote_consenting(self, members: Iterable[str]) -> set[str]: ...
    def save_channel_names(self, platform: Platform, names: Mapping[str, str], at: datetime) -> None: ...
    def reader(self) -> AbstractContextManager[Store | None]:
        """Another connection of its own to the same database that only reads, for one worker thread, closed when
        the block ends; None where no other connection can open the database (in memory)."""
        ...


@dataclass(frozen=True, slots=True)
class PostedMessage:
    """What a platform returned for a post: its message id and the post's time (Slack ts; Teams accept time)."""

    message_id: str
    posted_at: datetime


@dataclass(frozen=True, slots=True)
class Card:
    """A platform-neutral message: a title, label/value facts and paragraphs of light markdown."""

    title: str
    facts: tuple[tuple[str, str], ...] = ()
    sections: tuple[tuple[str, str], ...] = ()  # (heading, text); heading may be ""
    footer: str = ""


Marker = Mapping[str, str]
"""What a post carries so that the platform can later show it is there (on Slack, the message's metadata)."""


class Poster(Protocol):
    """Posts into one platform's channels.

    A post is never retried once the platform may have received it: ``AdapterError`` means nothing was posted,
    ``PostInDoubt`` that it may have been. ``find_post`` then asks the platform for the post that carries ``marker``
    between ``since`` and ``until`` (None: there is none; ``PostUnverifiable``: the platform cannot tell).
    """

    platform: Platform

    async def post_prompt(
        self, channel_id: str, prompt: Prompt, notice: str, *, marker: Marker | None = None
    ) -> PostedMessage: ...
    async def post_card(self, channel_id: str, card: Card, *, marker: Marker | None = None) -> PostedMessage: ...
    async def find_post(
        self, channel_id: str, marker: Marker, *, since: datetime, until: datetime
    ) -> PostedMessage | None: ...


@runtime_checkable
class ChannelNamer(Protocol):
    """A poster that can look up a channel's readable name (Slack: ``conversations.info``)."""

    async def channel_name(self, channel_id: str) -> str | None: ...
