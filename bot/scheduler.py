"""Scheduled prompts and weekly summaries, posted exactly once per slot and channel, across restarts.

Each (kind, slot, channel) is claimed in ``schedule_runs`` before posting and recorded after (see ``bot.slots``
for the states). A post the platform refused is retried with backoff while the slot is less than ``CATCH_UP`` old.
A post the platform may have accepted is never retried blindly: the slot is in doubt until the platform shows
whether the post is in the channel (``bot.in_doubt``). A slot missed while the bot was down is posted on start if
it is less than ``CATCH_UP`` late, otherwise skipped and logged; several missed slots lead to one post (the latest).
Slots from before the install's first start are not missed slots: they are ignored.

The loop never stops on an error: a failing tick is logged and tried again within a minute, and ``health()`` tells
``/healthz`` the scheduler's state and its next slots.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from bot.config import ChannelConfig, Settings
from bot.errors import BotError, PostInDoubt
from bot.events import Platform
from bot.in_doubt import InDoubt
from bot.ports import Card, PostedMessage, Poster
from bot.prompts import Prompt
from bot.scheduler_time import next_slot, previous_slot
from bot.service import Engagement
from bot.slots import (
    CLAIM_LEASE,
    RETRY_BASE,
    Claim,
    Kind,
    ScheduleStore,
    SlotKey,
    SlotResult,
    retry_delay,
)
from bot.timeutil import IsoWeek, to_display, utc_now

__all__ = [
    "CATCH_UP",
    "CLAIM_LEASE",
    "MAX_ATTEMPTS",
    "Claim",
    "Clock",
    "Kind",
    "Scheduler",
    "SchedulerState",
    "SlotResult",
    "SystemClock",
    "retry_delay",
]

logger = logging.getLogger(__name__)

CATCH_UP = timedelta(hours=6)
MAX_ATTEMPTS = 5
MAX_SLEEP = 60.0  # wake at least this often, so clock jumps and suspends are noticed, and a failed tick is retried


class Clock(Protocol):
    def now(self) -> datetime: ...
    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return utc_now()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class SchedulerState(StrEnum):
    STARTING = "starting"  # running, no tick finished yet
    RUNNING = "running"  # the last tick succeeded
    RETRYING = "retrying"  # the last tick failed; the next one is within a minute
    STOPPED = "stopped"  # not running (not started, or stopped)


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
        self.in_doubt = InDoubt(engagement, posters, store, lease=CLAIM_LEASE, retry_base=RETRY_BASE)
        self.state = SchedulerState.STOPPED
        self.last_error: str | None = None
        self._records_first_start = False
        self._first_start: datetime | None = None

    @property
    def settings(self) -> Settings:
        return self.engagement.settings

    async def run_forever(self) -> None:
        """Post what is due, sleep until the next slot (or a minute), and again; a failing tick never stops it."""
        self.state, self.last_error = SchedulerState.STARTING, None
        self._records_first_start = True  # the process that runs the schedule is the bot starting
        try:
            while True:
                try:
                    await self.tick()
                except Exception as err:  # one bad tick must not stop the schedule; the next one retries
                    self.state, self.last_error = SchedulerState.RETRYING, _describe(err)
                    logger.exception("scheduler tick failed; retrying within a minute error=%s", self.last_error)
                else:
                    self.state, self.last_error = SchedulerState.RUNNING, None
                await self.clock.sleep(self._sleep_seconds())
        finally:
            self.state = SchedulerState.STOPPED

    def health(self) -> dict[str, Any]:
        """The ``scheduler`` key of ``/healthz``."""
        now = self.clock.now()
        return {
            "state": self.state.value,
            "last_error": self.last_error,
            "next_prompt": self._next(self.settings.prompt_cron, self.settings.channels, now),
            "next_summary": self._next(self.settings.summary_cron, self.settings.summary_channels, now),
        }

    def _next(self, cron: str, channels: Sequence[ChannelConfig], now: datetime) -> str | None:
        return to_display(next_slot(cron, now, self.settings.timezone)) if channels else None

    def seconds_until_next(self) -> float:
        now = self.clock.now()
        tz = self.settings.timezone
        upcoming = min(next_slot(self.settings.prompt_cron, now, tz), next_slot(self.settings.summary_cron, now, tz))
        return max(1.0, min(MAX_SLEEP, (upcoming - now).total_seconds()))

    def _sleep_seconds(self) -> float:
        try:
            return self.seconds_until_next()
        except Exception:  # never let the arithmetic stop the loop
            logger.exception("scheduler could not compute the next slot")
            return MAX_SLEEP

    async def tick(self) -> list[SlotResult]:
        now = self.clock.now()
        tz = self.settings.timezone
        first_start = self._first_start_at(now)
        results = await self.in_doubt.resolve(now)
        for kind, cron, channels in (
            (Kind.PROMPT, self.settings.prompt_cron, self.settings.channels),
            (Kind.SUMMARY, self.settings.summary_cron, self.settings.summary_channels),
        ):
            slot = previous_slot(cron, now, tz)
            if first_start is not None and slot < first_start:
                continue  # before the bot was first started: not a missed slot
            results += await self._run_slot(kind, slot, now, channels, first_start)
        return results

    def _first_start_at(self, now: datetime) -> datetime | None:
        if self._first_start is None:
            store = self.store
            self._first_start = store.record_first_start(now) if self._records_first_start else store.first_start()
        return self._first_start

    async def _run_slot(
        self,
        kind: Kind,
        slot: datetime,
        now: datetime,
        channels: Sequence[ChannelConfig],
        first_start: datetime | None,
    ) -> list[SlotResult]:
        results = []
        late = now - slot
        for channel in channels:
            key = SlotKey(kind, slot, channel.platform, channel.id)
            if late >= CATCH_UP:
                if self.store.skip_slot(key, now):
                    logger.warning("slot skipped %s late_minutes=%d", key, late.total_seconds() // 60)
                results.append(SlotResult(key, Claim.SKIPPED))
                continue
            claim = self.store.claim_slot(key, now, max_attempts=MAX_ATTEMPTS, retry_base=RETRY_BASE)
            if claim is not Claim.CLAIMED:
                results.append(SlotResult(key, claim))
                continue
            results.append(await self._post(key, first_start))
        return results

    async def _post(self, key: SlotKey, first_start: datetime | None) -> SlotResult:
        poster = self.posters.get(key.platform)
        prompt: Prompt | None = None
        card: Card | None = None
        try:  # before anything is sent: a failure here is a plain failure, retried with backoff
            if poster is None:
                raise BotError(f"{key.platform} is not configured")
            if key.kind is Kind.PROMPT:
                prompt = self.engagement.choose_prompt(key.platform, key.channel_id)
                self.store.note_prompt(key, prompt)  # so that a post found later is recorded with its prompt
            else:
                card = await self._summary_card(key, first_start)
                if card is None:
                    self.store.drop_slot(key, self.clock.now(), "no posts in a week before the first start")
                    logger.info("slot skipped %s reason=no_posts_before_first_start", key)
                    return SlotResult(key, Claim.SKIPPED)
        except Exception as err:
            return self._failed(key, _describe(err))
        try:
            if prompt is not None:
                sent = await self.engagement.send_prompt(poster, key.channel_id, prompt, key.marker())
            else:
                assert card is not None
                sent = await poster.post_card(key.channel_id, card, marker=key.marker())
        except PostInDoubt as err:
            return self._doubt(key, str(err))
        except BotError as err:  # refused before anything was posted
            return self._failed(key, str(err))
        except Exception as err:  # unexpected: whether the platform got it is unknown, so it is in doubt
            return self._doubt(key, type(err).__name__)
        result = self._record(key, prompt, sent)
        if prompt is not None and result.claim is Claim.DONE:  # once the slot is recorded: a name is only a nicety
            await self.engagement.learn_channel_name(poster, key.channel_id)
        return result

    async def _summary_card(self, key: SlotKey, first_start: datetime | None) -> Card | None:
        """The public summary of the week before the slot; None when that week began before the first start and
        had no posts (a new install's first Monday has nothing to report). Read off the event loop, as the
        ``summary`` command is, so captures are acknowledged meanwhile."""
        tz = self.settings.timezone
        week = IsoWeek.containing(key.slot, tz).previous()
        new_install = first_start is not None and week.bounds(tz)[0] < first_start

        def card(reader: Engagement) -> Card | None:
            summary = reader.summary(week)
            if new_install and summary.totals.posts == 0:
                return None
            return reader.summary_card(summary, public=True)

        return await self.engagement.off_loop(card)

    def _record(self, key: SlotKey, prompt: Prompt | None, sent: PostedMessage) -> SlotResult:
        try:
            if prompt is not None:
                self.engagement.record_prompt(key.platform, key.channel_id, prompt, sent)
            self.store.finish_slot(key, self.clock.now(), sent.message_id)
        except Exception as err:  # posted but not recorded: the channel is checked before anything else
            return self._doubt(key, f"posted but not recorded ({type(err).__name__})")
        logger.info("slot posted %s", key)
        return SlotResult(key, Claim.DONE)

    def _failed(self, key: SlotKey, reason: str) -> SlotResult:
        """Nothing was posted: retried with backoff."""
        self.store.fail_slot(key, self.clock.now(), reason)
        logger.warning("slot failed %s error=%s", key, reason)
        return SlotResult(key, Claim.WAIT, reason)

    def _doubt(self, key: SlotKey, reason: str) -> SlotResult:
        """The post may be in the channel: never posted again until the platform shows it is not."""
        logger.warning("slot in doubt %s error=%s; the channel is checked before any new post", key, reason)
        try:
            self.store.doubt_slot(key, self.clock.now(), reason)
        except Exception:  # the row stays claimed, which is in doubt once CLAIM_LEASE has passed
            logger.exception("slot in doubt %s could not be recorded; checked after the claim lease", key)
        return SlotResult(key, Claim.IN_DOUBT, reason)


def _describe(err: Exception) -> str:
    """A short, loggable description: our own messages in full, other errors by type and message."""
    if isinstance(err, BotError):
        return str(err)
    return f"{type(err).__name__}: {err}"[:300]
