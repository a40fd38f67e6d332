"""Members' Slack display names: looked up with ``users.info`` in the background, never on the ingest path.

A member stored without a name is put on a bounded queue (``QUEUE_SIZE``; when it is full the member is skipped and
learnt the next time they act). ``WORKERS`` tasks take members off it and ask ``users.info`` through one client on
one shared HTTP session, paced to the method's rate tier (Tier 4: ``RATE_PER_MINUTE``, in bursts of ``BURST``); a
429 waits for ``Retry-After``. A lookup that fails for a passing reason (the connection, a 5xx, a timeout) is tried
again later (``RETRY_DELAYS``), at most ``ATTEMPTS`` times; Slack's own refusal (``user_not_found``) is final. Found
names are written in batches every ``FLUSH_SECONDS``, one unit of work of the writer thread for the batch (no
transaction or fsync of their own). Members known to have a name are remembered (at most ``KNOWN_LIMIT``, for at
most ``KNOWN_SECONDS``: a member erased and back since is looked up again), so a returning member costs no query;
others cost one read on the read-only connection.

``wait_idle`` drains the queue (every queued member looked up or given up) and writes what was found; ``close``
does the same for at most ``CLOSE_SECONDS``, then drops what is left (learnt later) and closes the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Protocol

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.poster import TRANSIENT_STATUSES
from bot.events import Platform, member_id

logger = logging.getLogger(__package__)

__all__ = ["NameStore", "SlackNames"]

QUEUE_SIZE = 10_000
WORKERS = 4
RATE_PER_MINUTE = 100  # users.info is in Slack's Tier 4 ("100+ per minute")
BURST = 20
ATTEMPTS = 3
RETRY_DELAYS = (2.0, 10.0)  # seconds before the 2nd and the 3rd attempt
FLUSH_SECONDS = 0.5
KNOWN_LIMIT = 100_000
KNOWN_SECONDS = 600.0
CLOSE_SECONDS = 5.0
LOOKUP_TIMEOUT_SECONDS = 10
PASSING_STATUSES = TRANSIENT_STATUSES | {429}  # tried again later; any other refusal of Slack's is final


class NameStore(Protocol):
    """What display names need of storage (``storage.repository.Repository`` has it)."""

    def member_has_name(self, member: str) -> bool: ...
    async def store_display_names(self, names: Sequence[tuple[str, str]]) -> None: ...


class _Pace:
    """A token bucket: ``burst`` calls at once, then ``per_minute`` a minute."""

    def __init__(self, per_minute: float, burst: int) -> None:
        self.interval = 60.0 / per_minute
        self.burst = float(burst)
        self.tokens = float(burst)
        self.at = time.monotonic()

    async def wait(self) -> None:
        while True:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.at) / self.interval)
            self.at = now
            if self.tokens >= 1:
                self.tokens -= 1
                return
            await asyncio.sleep((1 - self.tokens) * self.interval)


class SlackNames:
    """Learns the display names of members stored without one: a bounded queue, a few paced workers."""

    def __init__(self, client: AsyncWebClient, store: NameStore) -> None:
        self._api = client  # its token and API URL; lookups use a client of their own on one shared session
        self.store = store
        self._queue: asyncio.Queue[tuple[str, str, int]] = asyncio.Queue(QUEUE_SIZE)
        self._pending: set[str] = set()  # queued, being looked up, or waiting for a retry
        self._known: set[str] = set()  # have a name in storage (as of _known_since at the latest)
        self._known_since = time.monotonic()
        self._found: list[tuple[str, str]] = []
        self._retries: set[asyncio.Task[None]] = set()
        self._workers: list[asyncio.Task[None]] = []
        self._writes: set[asyncio.Task[None]] = set()
        self._flush: asyncio.TimerHandle | None = None
        self._client: AsyncWebClient | None = None
        self._pace = _Pace(RATE_PER_MINUTE, BURST)
        self._closed = False

    def learn(self, user_id: str | None) -> None:
        """Queue ``user_id``'s name if the member has none yet (after their event was committed)."""
        if not user_id or self._closed:
            return
        member = member_id(Platform.SLACK, user_id)
        if time.monotonic() - self._known_since > KNOWN_SECONDS:
            self._forget_known()
        if member in self._known or member in self._pending:
            return
        if self.store.member_has_name(member):
            self._remember(member)
            return
        try:
            self._queue.put_nowait((member, user_id, 1))
        except asyncio.QueueFull:
            logger.debug("slack display names queue full: learnt next time")
            return
        self._pending.add(member)
        if not self._workers:
            self._workers = [asyncio.create_task(self._work(), name="slack-names") for _ in range(WORKERS)]

    async def wait_idle(self) -> None:
        """Until every queued member was looked up (retries included) and the names found are stored."""
        while True:
            await self._queue.join()
            if self._retries:
                await asyncio.gather(*list(self._retries), return_exceptions=True)
                continue  # the retries are queued now
            self._write_found()
            if not self._writes:
                return
            await asyncio.gather(*list(self._writes), return_exceptions=True)

    async def close(self) -> None:
        """Drain for at most CLOSE_SECONDS, store what was found, stop the workers, close the HTTP session."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wait_idle(), CLOSE_SECONDS)
        self._closed = True
        for task in [*self._retries, *self._workers]:
            task.cancel()
        await asyncio.gather(*self._retries, *self._workers, return_exceptions=True)
        self._workers = []
        while not self._queue.empty():  # dropped: learnt the next time serve runs and they act
            self._queue.get_nowait()
            self._queue.task_done()
        self._pending.clear()
        self._write_found()
        await asyncio.gather(*list(self._writes), return_exceptions=True)
        if self._client is not None and self._client.session is not None:
            await self._client.session.close()
        self._client = None

    # -- inside --------------------------------------------------------------------------------------------------

    def _remember(self, member: str) -> None:
        if len(self._known) >= KNOWN_LIMIT:
            self._forget_known()
        self._known.add(member)

    def _forget_known(self) -> None:
        self._known.clear()
        self._known_since = time.monotonic()

    def _lookups(self) -> AsyncWebClient:
        if self._client is None:
            self._client = AsyncWebClient(
                token=self._api.token,
                base_url=self._api.base_url,
                timeout=LOOKUP_TIMEOUT_SECONDS,
                session=aiohttp.ClientSession(),
                retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
            )
        return self._client

    async def _work(self) -> None:
        while True:
            member, user_id, attempt = await self._queue.get()
            try:
                await self._pace.wait()
                await self._look_up(member, user_id, attempt)
            finally:
                self._queue.task_done()

    async def _look_up(self, member: str, user_id: str, attempt: int) -> None:
        try:
            response = await self._lookups().users_info(user=user_id)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as err:
            passing = not isinstance(err, SlackApiError) or err.response.status_code in PASSING_STATUSES
            if passing and attempt < ATTEMPTS:
                logger.info("slack users.info failed error=%s attempt=%d; tried again later", _name(err), attempt)
                self._retry_later(member, user_id, attempt)
            else:
                logger.warning("slack users.info failed error=%s attempt=%d", _name(err), attempt)
                self._pending.discard(member)  # asked again the next time the member acts
            return
        user = response.get("user")
        user = user if isinstance(user, dict) else {}
        profile = user.get("profile")
        profile = profile if isinstance(profile, dict) else {}
        name = profile.get("display_name") or profile.get("real_name") or user.get("real_name")
        if isinstance(name, str) and name.strip():
            self._found.append((member, name.strip()))  # still pending until it is written
            if self._flush is None:
                self._flush = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self._write_found)
        else:
            self._pending.discard(member)

    def _retry_later(self, member: str, user_id: str, attempt: int) -> None:
        task = asyncio.get_running_loop().create_task(self._again(member, user_id, attempt + 1))
        self._retries.add(task)
        task.add_done_callback(self._retries.discard)

    async def _again(self, member: str, user_id: str, attempt: int) -> None:
        await asyncio.sleep(RETRY_DELAYS[attempt - 2])
        try:
            self._queue.put_nowait((member, user_id, attempt))
        except asyncio.QueueFull:
            self._pending.discard(member)

    def _write_found(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        found, self._found = self._found, []
        if found:
            task = asyncio.get_running_loop().create_task(self._store(found))
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)

    async def _store(self, found: list[tuple[str, str]]) -> None:
        try:
            await self.store.store_display_names(found)
        except Exception as err:  # a missing name never breaks capture: it is looked up the next time
            logger.warning("slack display names not stored error=%s", type(err).__name__)
        else:
            for member, _ in found:
                self._remember(member)
        finally:
            self._pending.difference_update(member for member, _ in found)


def _name(err: Exception) -> str:
    if isinstance(err, SlackApiError):
        error = err.response.get("error") if isinstance(err.response.data, dict) else None
        return error if isinstance(error, str) and error.isidentifier() else f"http_{err.response.status_code}"
    return type(err).__name__
