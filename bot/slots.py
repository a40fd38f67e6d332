"""Schedule slots: their keys, the states of a claim, and the store that makes each slot post at most once.

A slot is one (kind, time, platform, channel). Its row in ``schedule_runs`` goes through these states:

- ``claimed``: one process took it and is posting. Nobody else posts it.
- ``done``: posted and recorded (for a prompt, with its row in ``posts``).
- ``failed``: the platform refused the post, so nothing is in the channel; retried with backoff.
- ``in_doubt``: the platform may have accepted the post (a timeout, a dropped connection, a 5xx, a crash or a
  database error between the post and its record). It is never posted again until the platform has shown that
  the channel has no such post (``bot.in_doubt``). A ``claimed`` row older than ``CLAIM_LEASE`` is in doubt too:
  the process that claimed it died.
- ``unresolved``: in doubt, and the platform cannot show whether the post exists (Teams). An admin checks.
- ``skipped``: too late to post, or nothing to post.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from bot.events import Platform
from bot.prompts import Prompt
from bot.timeutil import to_display

RETRY_BASE = timedelta(minutes=1)
CLAIM_LEASE = timedelta(minutes=15)  # far longer than any post takes (30 s timeout, a few rate-limit waits)


class Kind(StrEnum):
    PROMPT = "prompt"
    SUMMARY = "summary"


class Claim(StrEnum):
    CLAIMED = "claimed"  # ours to post now
    DONE = "done"  # posted already
    IN_DOUBT = "in_doubt"  # may have been posted: the channel is checked before anything is posted again
    UNRESOLVED = "unresolved"  # in doubt and the platform cannot tell: left for an admin
    WAIT = "wait"  # failed (nothing posted); the next retry is not due yet
    GAVE_UP = "gave_up"  # failed MAX_ATTEMPTS times
    SKIPPED = "skipped"  # too late, or nothing to post; recorded as skipped


@dataclass(frozen=True, slots=True)
class SlotKey:
    kind: Kind
    slot: datetime
    platform: Platform
    channel_id: str

    def marker(self) -> dict[str, str]:
        """What the post carries, so the platform can later show whether this slot's post is in the channel."""
        return {
            "kind": self.kind.value,
            "slot": to_display(self.slot),
            "platform": self.platform.value,
            "channel": self.channel_id,
        }

    def __str__(self) -> str:  # the key=value form of the log lines
        return f"kind={self.kind} slot={self.slot.isoformat()} platform={self.platform} channel={self.channel_id}"


@dataclass(frozen=True, slots=True)
class PendingSlot:
    """A slot whose post may or may not be in the channel, as ``ScheduleStore.slots_in_doubt`` returns it."""

    key: SlotKey
    claimed_at: datetime  # when the attempt in doubt began
    attempts: int
    prompt: Prompt | None  # the prompt that attempt posted (prompt slots)


@dataclass(frozen=True, slots=True)
class SlotResult:
    key: SlotKey
    claim: Claim
    error: str = ""

    @property
    def kind(self) -> Kind:
        return self.key.kind

    @property
    def channel_id(self) -> str:
        return self.key.channel_id


class ScheduleStore(Protocol):
    """The claims in ``schedule_runs`` (implemented by ``storage.schedule.ScheduleRuns``)."""

    def claim_slot(self, key: SlotKey, now: datetime, *, max_attempts: int, retry_base: timedelta) -> Claim: ...
    def note_prompt(self, key: SlotKey, prompt: Prompt) -> None: ...
    def finish_slot(self, key: SlotKey, now: datetime, message_id: str) -> None: ...
    def fail_slot(self, key: SlotKey, now: datetime, error: str) -> None: ...
    def doubt_slot(self, key: SlotKey, now: datetime, error: str) -> None: ...
    def abandon_slot(self, key: SlotKey, now: datetime, error: str) -> None: ...
    def drop_slot(self, key: SlotKey, now: datetime, reason: str) -> None: ...
    def skip_slot(self, key: SlotKey, now: datetime) -> bool: ...
    def slots_in_doubt(self, now: datetime, *, lease: timedelta, retry_base: timedelta) -> list[PendingSlot]: ...
    def record_first_start(self, now: datetime) -> datetime: ...
    def first_start(self) -> datetime | None: ...


def retry_delay(attempts: int, base: timedelta = RETRY_BASE) -> timedelta:
    """Exponential backoff after ``attempts`` failures: 1, 2, 4, 8 … minutes."""
    return base * int(2 ** max(0, attempts - 1))
