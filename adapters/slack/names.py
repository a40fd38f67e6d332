"""Members' Slack display names: looked up once with ``users.info``, in the background, and kept in storage."""

from __future__ import annotations

import logging
from typing import Protocol

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.background import Background
from bot.events import Platform, member_id

logger = logging.getLogger(__package__)

__all__ = ["NameStore", "SlackNames"]


class NameStore(Protocol):
    """What display names need of storage (``storage.repository.Repository`` has it)."""

    def member_has_name(self, member: str) -> bool: ...
    def set_display_name(self, member: str, display_name: str) -> None: ...


class SlackNames:
    """Fetches the display name of a member stored without one; at most one lookup per member at a time."""

    def __init__(self, client: AsyncWebClient, store: NameStore, background: Background) -> None:
        self.client = client
        self.store = store
        self.background = background
        self._naming: set[str] = set()

    def learn(self, user_id: str) -> None:
        member = member_id(Platform.SLACK, user_id)
        if member in self._naming or self.store.member_has_name(member):
            return
        self._naming.add(member)
        self.background.spawn(self._fetch_name(member, user_id))

    async def _fetch_name(self, member: str, user_id: str) -> None:
        try:
            response = await self.client.users_info(user=user_id)
            user = response.get("user") or {}
            profile = user.get("profile") or {}
            name = profile.get("display_name") or profile.get("real_name") or user.get("real_name")
            if isinstance(name, str) and name.strip():
                self.store.set_display_name(member, name.strip())
        except Exception as err:  # a missing name must never break capture: it is fetched again next time
            logger.warning("slack users.info failed error=%s", type(err).__name__)
        finally:
            self._naming.discard(member)
