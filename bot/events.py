"""Platform-neutral capture events: what the adapters emit and the capture rules consume."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Platform(StrEnum):
    SLACK = "slack"
    TEAMS = "teams"


def member_id(platform: Platform | str, user_id: str) -> str:
    """The stable member identity used everywhere: ``slack:U123`` or ``teams:29:1abc``."""
    return f"{Platform(platform).value}:{user_id}"


def parse_member_id(value: str) -> tuple[Platform, str]:
    """Split ``slack:U123`` into its platform and user id; raises ValueError for anything else."""
    platform, sep, user = value.partition(":")
    if not sep or not user.strip() or platform not in {p.value for p in Platform}:
        raise ValueError(f"{value!r} is not a member id like slack:U123 or teams:29:1abc")
    return Platform(platform), user


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Something a member did. ``event_key`` is the platform's delivery id (Slack event_id, Teams activity id)."""

    platform: Platform
    channel_id: str
    occurred_at: datetime  # tz-aware, from the payload, never the arrival clock
    event_key: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyPosted(Event):
    """A member wrote in the thread of ``thread_id`` (a post's message id if it is one of ours)."""

    thread_id: str
    message_id: str
    user_id: str
    text: str
    display_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyEdited(Event):
    """A member changed a message. ``occurred_at`` is the edit time; ``original_at`` the message's own time.

    ``thread_id``, ``user_id`` and ``original_at`` let an edit that arrives before its reply store the reply.
    """

    message_id: str
    text: str
    thread_id: str | None = None
    original_at: datetime | None = None
    user_id: str | None = None
    display_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyDeleted(Event):
    message_id: str
    thread_id: str | None = None  # None when the platform does not say


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyRestored(Event):
    """A deleted message was restored (Teams ``undeleteMessage``) at ``occurred_at``: it may be captured again.

    When the platform sends the restored message along (its text, thread, author and own time), it is stored at once
    as a reply; otherwise its next edit stores it (see :class:`ReplyEdited`).
    """

    message_id: str
    thread_id: str | None = None
    text: str | None = None
    original_at: datetime | None = None
    user_id: str | None = None
    display_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReactionEvent(Event):
    """A reaction added or removed. ``target_user_id``, ``target_at`` (the author and time of the message reacted
    to) and ``thread_id`` (the root of the thread the message is in) are hints some platforms give: they let the
    capture rules drop a reaction whose target can never count."""

    target_id: str  # the message reacted to: a post or a reply in a post's thread
    user_id: str
    name: str
    target_user_id: str | None = None
    target_at: datetime | None = None
    thread_id: str | None = None  # Teams names the thread in the conversation id; Slack does not say


@dataclass(frozen=True, slots=True, kw_only=True)
class ReactionAdded(ReactionEvent):
    display_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReactionRemoved(ReactionEvent):
    pass


CaptureEvent = ReplyPosted | ReplyEdited | ReplyDeleted | ReplyRestored | ReactionAdded | ReactionRemoved
