"""Daily upkeep while `serve` runs: the retention purge and the cleanup of reactions that never found a target."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from adapters.runtime import Runtime
from bot.scheduler import Clock, SystemClock

logger = logging.getLogger(__name__)

DAY = timedelta(days=1)
UNRESOLVED_REACTION_DAYS = 7  # a reaction whose reply has not arrived in a week never will


@dataclass(frozen=True, slots=True)
class MaintenanceResult:
    texts_removed: int
    reactions_dropped: int


def run_maintenance(runtime: Runtime, now: datetime) -> MaintenanceResult:
    repo = runtime.repo
    texts = repo.purge_old_text(now - timedelta(days=runtime.settings.retention_days))
    reactions = repo.purge_unresolved_reactions(now - timedelta(days=UNRESOLVED_REACTION_DAYS))
    logger.info(
        "maintenance retention_days=%d texts_removed=%d reactions_dropped=%d",
        runtime.settings.retention_days,
        texts,
        reactions,
    )
    return MaintenanceResult(texts, reactions)


async def maintenance_loop(runtime: Runtime, clock: Clock | None = None) -> None:
    """Run the upkeep at start and then once a day; a failure is logged and tried again the next day."""
    clock = clock or SystemClock()
    while True:
        try:
            await asyncio.to_thread(run_maintenance, runtime, clock.now())
        except Exception:  # upkeep must never stop the server; the next run tries again
            logger.exception("maintenance failed")
        await clock.sleep(DAY.total_seconds())
