"""Records the storage layer returns to the core: plain frozen dataclasses, no SQL types."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.events import Platform


@dataclass(frozen=True, slots=True)
class PostRecord:
    id: int
    platform: Platform
    channel_id: str
    message_id: str
    theme: str
    prompt: str
    posted_at: datetime

    @property
    def key(self) -> str:
        """The public post id (`post_id` in summaries and exports): platform, channel and message id."""
        return f"{self.platform.value}:{self.channel_id}:{self.message_id}"


@dataclass(frozen=True, slots=True)
class ReplyRecord:
    id: int
    post_id: int
    platform: Platform
    channel_id: str
    message_id: str
    member_id: str
    text: str
    created_at: datetime
    edited_at: datetime | None


@dataclass(frozen=True, slots=True)
class ReactionRecord:
    id: int
    post_id: int | None
    reply_id: int | None
    platform: Platform
    channel_id: str
    target_id: str
    member_id: str
    name: str
    created_at: datetime
    removed_at: datetime | None


# The counted replies (name None) or the counted reactions of one name on one post in a span, as the summary needs
# them: (post id, reaction name or None, the member id of each reply or reaction).
ActivityGroup = tuple[int, str | None, list[str]]


@dataclass(frozen=True, slots=True)
class WeekTotals:
    """The figures of a week that the previous-week comparison needs, and the people behind them."""

    posts: int
    replies: int
    reactions: int
    participants: int
    repliers: int = 0  # distinct members behind ``replies``
    reactors: int = 0  # distinct members behind ``reactions``


@dataclass(frozen=True, slots=True)
class ErasureCounts:
    replies: int
    reactions: int
    members: int
    scrubbed: bool = True  # False: a reader held up the scrub of the files; it is recorded and completed later
    dashboard_links: int = 0  # an admin's dashboard sign-in links
    dashboard_sessions: int = 0  # and sessions


@dataclass(frozen=True, slots=True)
class MemberGate:
    """What may be stored of one member: nothing while opted out, nothing without capture consent when consent is
    required, and nothing that happened before ``not_before`` (the time of their latest opt-out or opt-in)."""

    opted_out: bool
    capture_consent: bool
    not_before: datetime | None

    def allows(self, at: datetime, *, consent_required: bool) -> bool:
        if self.opted_out or (consent_required and not self.capture_consent):
            return False
        return self.not_before is None or at >= self.not_before


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    """What the capture rules must know before storing a message as a reply, read in one query: its author's gate
    and member row (whether stored, with which display name), whether a reply is already stored as it, whether its
    deletion is remembered, whether reactions to it arrived first, and the retention horizon (text written before it
    is never stored)."""

    gate: MemberGate
    member_stored: bool
    member_name: str | None
    stored: bool
    deleted: bool
    early_reactions: bool
    text_purged_before: datetime | None


@dataclass(frozen=True, slots=True)
class StoredReaction:
    """One member's reaction as stored: its row and times in storage's own format (which sorts as time)."""

    id: int
    created_at: str
    removed_at: str | None


@dataclass(frozen=True, slots=True)
class ReactionState:
    """What the capture rules must know before recording a reaction, read in one query: the reacting member's gate
    and member row (whether stored, with which display name), and the same reaction as stored, if it is."""

    gate: MemberGate
    member_stored: bool
    member_name: str | None
    stored: StoredReaction | None
