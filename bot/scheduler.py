"""Scheduled prompts and weekly summaries, posted exactly once per slot and channel, across restarts.

Each (kind, slot, channel) is claimed in ``schedule_runs`` before posting and recorded after. A claim
that was never recorded (the process died mid-post) is not retried: a post may have gone out, and a
duplicate is worse than a gap. Failures recorded as such are retried with backoff while the slot is
less than ``CATCH_UP`` old. A slot missed while the bot was down is posted on start if it is less than
``CATCH_UP`` late, otherwise skipped and logged; several missed slots lead to one post (the latest).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from bot.config import ChannelConfig, Settings
from bot.errors import BotError
from bot.events import Platform
from bot.ports import Poster
from bot.scheduler_time import next_slot, previous_slot
from bot.service import Engagement
from bot.timeutil import IsoWeek, utc_now

logger = logging.getLogger(__name__)

CATCH_UP = timedelta(hours=6)
MAX_ATTEMPTS = 5
RETRY_BASE = timedelta(minutes=1)
MAX_SLEEP = 60.0  # wake at least this often, so clock jumps and suspends are noticed


class Kind(StrEnum):
    PROMPT = "prompt"
    SUMMARY = "summary"


class Claim(StrEnum):
    CLAIMED = "claimed"  # ours to post now
    DONE = "done"  # posted already
    IN_DOUBT = "in_doubt"  # claimed earlier and never recorded: not posted again
    WAIT = "wait"  # failed earlier; the next retry is not due yet
    GAVE_UP = "gave_up"  # failed MAX_ATTEMPTS times
    SKIPPED = "skipped"  # too late; recorded as skipped


class ScheduleStore(Protocol):
    def claim_slot(
        self,
        kind: str,
        slot: datetime,
        platform: Platform,
        channel_id: str,
        now: datetime,
        *,
        max_attempts: int,
        retry_base: timedelta,
    ) -> Claim: ...
    def finish_slot(
        self, kind: str, slot: datetime, platform: Platform, channel_id: str, now: datetime, message_id: str
    ) -> None: ...
    def fail_slot(
        self, kind: str, slot: datetime, platform: Platform, channel_id: str, now: datetime, error: str
    ) -> None: ...
    def skip_slot(self, kind: str, slot: datetime, platform: Platform, channel_id: str, now: datetime) -> bool: ...


class Clock(Protocol):
    def now(self) -> datetime: ...
    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return utc_now()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True, slots=True)
class SlotResult:
    kind: Kind
    slot: datetime
    platform: Platform
    channel_id: str
    claim: Claim
    error: str = ""


class Scheduler:
    def __init__(
        self,
        engagement: Engagement,
        posters: Mapping[Platform, Poster],
        store: ScheduleStore,
        clock: Clock | None = None,
    ) -> None:
        self.engagement = engagement
        self.posters = posters
        self.store = store
        self.clock = clock or SystemClock()

    @property
    def settings(self) -> Settings:
        return self.engagement.settings

    async def run_forever(self) -> None:
        """Post what is due, sleep until the next slot (or a minute), and again; never raises."""
        while True:
            try:
                await self.tick()
            except Exception:  # one bad tick must not stop the schedule; the next tick retries
                logger.exception("scheduler tick failed")
            await self.clock.sleep(self.seconds_until_next())

    def seconds_until_next(self) -> float:
        now = self.clock.now()
        tz = self.settings.timezone
        upcoming = min(next_slot(self.settings.prompt_cron, now, tz), next_slot(self.settings.summary_cron, now, tz))
        return max(1.0, min(MAX_SLEEP, (upcoming - now).total_seconds()))

    async def tick(self) -> list[SlotResult]:
        now = self.clock.now()
        tz = self.settings.timezone
        results = []
        prompt_slot = previous_slot(self.settings.prompt_cron, now, tz)
        results += await self._run_slot(Kind.PROMPT, prompt_slot, now, self.settings.channels)
        summary_slot = previous_slot(self.settings.summary_cron, now, tz)
        results += await self._run_slot(Kind.SUMMARY, summary_slot, now, self.settings.summary_channels)
        return results

    async def _run_slot(
        self, kind: Kind, slot: datetime, now: datetime, channels: Sequence[ChannelConfig]
    ) -> list[SlotResult]:
        results = []
        late = now - slot
        for channel in channels:
            if late >= CATCH_UP:
                if self.store.skip_slot(kind, slot, channel.platform, channel.id, now):
                    logger.warning(
                        "slot skipped kind=%s slot=%s platform=%s channel=%s late_minutes=%d",
                        kind,
                        slot.isoformat(),
                        channel.platform,
                        channel.id,
                        late.total_seconds() // 60,
                    )
                results.append(SlotResult(kind, slot, channel.platform, channel.id, Claim.SKIPPED))
                continue
            claim = self.store.claim_slot(
                kind, slot, channel.platform, channel.id, now, max_attempts=MAX_ATTEMPTS, retry_base=RETRY_BASE
            )
            if claim is not Claim.CLAIMED:
                results.append(SlotResult(kind, slot, channel.platform, channel.id, claim))
                continue
            results.append(await self._post(kind, slot, channel, now))
        return results

    async def _post(self, kind: Kind, slot: datetime, channel: ChannelConfig, now: datetime) -> SlotResult:
        poster = self.posters.get(channel.platform)
        try:
            if poster is None:
                raise BotError(f"{channel.platform} is not configured")
            if kind is Kind.PROMPT:
                post = await self.engagement.post_prompt(poster, channel.id)
                message_id = post.message_id
            else:
                week = IsoWeek.containing(slot, self.settings.timezone).previous()
                card = self.engagement.summary_card(self.engagement.summary(week), public=True)
                message_id = (await poster.post_card(channel.id, card)).message_id
        except Exception as err:  # a failing channel must not stop the others; it is retried with backoff
            reason = str(err) if isinstance(err, BotError) else type(err).__name__
            self.store.fail_slot(kind, slot, channel.platform, channel.id, self.clock.now(), reason)
            logger.warning(
                "slot failed kind=%s slot=%s platform=%s channel=%s error=%s",
                kind,
                slot.isoformat(),
                channel.platform,
                channel.id,
                reason,
            )
            return SlotResult(kind, slot, channel.platform, channel.id, Claim.WAIT, reason)
        self.store.finish_slot(kind, slot, channel.platform, channel.id, self.clock.now(), message_id)
        logger.info(
            "slot posted kind=%s slot=%s platform=%s channel=%s", kind, slot.isoformat(), channel.platform, channel.id
        )
        return SlotResult(kind, slot, channel.platform, channel.id, Claim.DONE)


def retry_delay(attempts: int, base: timedelta = RETRY_BASE) -> timedelta:
    """Exponential backoff after ``attempts`` failures: 1, 2, 4, 8 … minutes."""
    return base * int(2 ** max(0, attempts - 1))
