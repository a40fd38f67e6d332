"""Upkeep while `serve` runs. Daily: the retention purge, the cleanup of reactions that never found a target, and the
purge of dedupe keys and deletion tombstones past their window. Every minute: the scrub of erased text that a reader
of the database held up (``complete_pending_scrub``).

Every purge runs in batches of ``BATCH`` rows, each a unit of work of the writer thread (``Repository.submit``):
the next batch is queued only once the previous one is committed, so a capture that arrives during a purge of any
size is queued behind at most one batch, and is committed before the purge's next batch runs.

``DEDUPE_WINDOW``: a delivery's dedupe key (``seen_events``), a deleted message's tombstone (``deleted_messages``)
and the record of its restore (``restored_messages``) only have to outlive the platforms' redeliveries. Slack
retries an event for about an hour at most; the Bot Framework redelivers within minutes. Seven days is far longer
than either, and also covers a bot that was down for days and is then sent a backlog. Reconciliation does not need
them: it reads only messages that still exist.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from adapters.runtime import Runtime
from bot.scheduler import Clock, SystemClock
from storage.upkeep import Batch

logger = logging.getLogger(__name__)

DAY = timedelta(days=1)
UNRESOLVED_REACTION_DAYS = 7  # a reaction whose reply has not arrived in a week never will
DEDUPE_WINDOW = timedelta(days=7)
BATCH = 500
SCRUB_CHECK_SECONDS = 60.0  # how often serve looks for a scrub left pending (by itself or another process)


@dataclass(frozen=True, slots=True)
class MaintenanceResult:
    texts_removed: int
    reactions_dropped: int
    seen_events_purged: int = 0
    tombstones_purged: int = 0
    restores_purged: int = 0


async def run_maintenance(runtime: Runtime, now: datetime, *, batch: int = BATCH) -> MaintenanceResult:
    repo = runtime.repo
    retention = now - timedelta(days=runtime.settings.retention_days)
    texts = await _in_batches(runtime, lambda after: repo.purge_old_text(retention, after=after, limit=batch))
    cutoff = now - timedelta(days=UNRESOLVED_REACTION_DAYS)
    reactions = await _in_batches(
        runtime, lambda after: repo.purge_unresolved_reactions(cutoff, after=after, limit=batch)
    )
    await repo.submit(repo.drop_orphan_members)
    window = now - DEDUPE_WINDOW
    seen = await _in_batches(runtime, lambda after: repo.purge_seen_events(window, after=after, limit=batch))
    tombstones = await _in_batches(runtime, lambda after: repo.purge_deleted_messages(window, after=after, limit=batch))
    restores = await _in_batches(runtime, lambda after: repo.purge_restored_messages(window, after=after, limit=batch))
    if texts:
        await asyncio.to_thread(repo.scrub)  # the blanked text must survive nowhere in the files (waits for readers)
    logger.info(
        "maintenance retention_days=%d texts_removed=%d reactions_dropped=%d seen_events_purged=%d "
        "tombstones_purged=%d restores_purged=%d",
        runtime.settings.retention_days,
        texts,
        reactions,
        seen,
        tombstones,
        restores,
    )
    return MaintenanceResult(texts, reactions, seen, tombstones, restores)


async def _in_batches(runtime: Runtime, step: Callable[[int], Batch]) -> int:
    """Run ``step`` batch after batch, each a unit of work of the writer thread, the next queued only once the
    previous one is committed (what was queued meanwhile, captures, goes first)."""
    total, after = 0, 0
    while True:
        done = await runtime.repo.submit(functools.partial(step, after))
        total += done.changed
        if done.next_after is None:
            return total
        after = done.next_after


async def maintenance_loop(runtime: Runtime, clock: Clock | None = None) -> None:
    """Run the upkeep at start and then once a day; a failure is logged and tried again the next day."""
    clock = clock or SystemClock()
    while True:
        try:
            await run_maintenance(runtime, clock.now())
        except Exception:  # upkeep must never stop the server; the next run tries again
            logger.exception("maintenance failed")
        await clock.sleep(DAY.total_seconds())


def complete_pending_scrub(runtime: Runtime) -> bool:
    """Complete a scrub of erased text left on record (``pending_scrubs``) once no reader holds it up; True when
    nothing is pending any more."""
    repo = runtime.repo
    return not repo.scrub_pending() or repo.scrub(wait=0)


async def scrub_loop(runtime: Runtime, clock: Clock | None = None) -> None:
    """Every minute, in a worker thread: :func:`complete_pending_scrub` (an idle bot still finishes erasures)."""
    clock = clock or SystemClock()
    while True:
        await clock.sleep(SCRUB_CHECK_SECONDS)
        try:
            await asyncio.to_thread(complete_pending_scrub, runtime)
        except Exception:  # upkeep must never stop the server; the next minute tries again
            logger.exception("pending scrub failed")
