"""Slots in doubt: a post the platform may have accepted is resolved by asking the platform, never by posting again.

Each tick, before any new post, every slot in doubt whose check is due is looked up in its channel, by the marker
its post carried (``SlotKey.marker``), between the claim of that attempt and the end of the claim lease (with a
margin for the difference between our clock and the platform's):

- found: the post is recorded as if it had just succeeded (a prompt gets its row in ``posts``, so its replies are
  captured) and the slot is done;
- not found: the attempt is a plain failure, and the scheduler posts again while the slot is still due;
- the platform cannot tell (Teams): the slot is unresolved, logged as an error for an admin, and never posted again;
- the check failed (the platform is unreachable): still in doubt, checked again after a backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from bot.errors import BotError, PostUnverifiable
from bot.events import Platform
from bot.ports import Poster
from bot.service import Engagement
from bot.slots import Claim, Kind, PendingSlot, ScheduleStore, SlotResult

logger = logging.getLogger(__name__)

CLOCK_MARGIN = timedelta(minutes=5)  # our clock and the platform's may differ by this much


class InDoubt:
    def __init__(
        self,
        engagement: Engagement,
        posters: Mapping[Platform, Poster],
        store: ScheduleStore,
        *,
        lease: timedelta,
        retry_base: timedelta,
    ) -> None:
        self.engagement = engagement
        self.posters = posters
        self.store = store
        self.lease = lease
        self.retry_base = retry_base

    async def resolve(self, now: datetime) -> list[SlotResult]:
        """Check every slot in doubt whose check is due; what each check found."""
        pending = self.store.slots_in_doubt(now, lease=self.lease, retry_base=self.retry_base)
        return [await self._resolve(slot, now) for slot in pending]

    async def _resolve(self, pending: PendingSlot, now: datetime) -> SlotResult:
        key = pending.key
        poster = self.posters.get(key.platform)
        try:
            if poster is None:
                raise PostUnverifiable(f"{key.platform} is no longer configured")
            found = await poster.find_post(
                key.channel_id,
                key.marker(),
                since=pending.claimed_at - CLOCK_MARGIN,
                until=min(now, pending.claimed_at + self.lease + CLOCK_MARGIN),
            )
        except PostUnverifiable as err:
            self.store.abandon_slot(key, now, str(err))
            logger.error(
                "slot unresolved %s: it may or may not have been posted, and %s; check the channel, and if the %s "
                "is missing, post one with `engagebot post --platform %s --channel %s`",
                key,
                err,
                key.kind,
                key.platform,
                key.channel_id,
            )
            return SlotResult(key, Claim.UNRESOLVED, str(err))
        except Exception as err:  # the platform could not be asked: ask again later
            reason = str(err) if isinstance(err, BotError) else type(err).__name__
            self.store.doubt_slot(key, now, f"checking the channel failed: {reason}")
            logger.warning("slot still in doubt %s: checking the channel failed error=%s", key, reason)
            return SlotResult(key, Claim.IN_DOUBT, reason)
        if found is None:
            self.store.fail_slot(key, now, "not posted: the channel has no such post")
            logger.info("slot checked %s outcome=not_posted; it is posted again while still due", key)
            return SlotResult(key, Claim.WAIT, "not posted")
        if key.kind is Kind.PROMPT and pending.prompt is not None:
            self.engagement.record_prompt(key.platform, key.channel_id, pending.prompt, found)
        self.store.finish_slot(key, now, found.message_id)
        logger.info("slot checked %s outcome=found; recorded", key)
        return SlotResult(key, Claim.DONE)
