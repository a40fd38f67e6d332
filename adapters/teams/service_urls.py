"""Which URLs the Teams adapter may call: the Bot Framework connector (an activity's ``serviceUrl``) and the
OneDrive upload session of a file-consent answer.

An activity names the ``serviceUrl`` the bot answers to, and a stored conversation reference keeps it for later
posts. A forged one would make the bot send member data wherever the sender likes, so only the connector hosts
Microsoft documents for Teams are followed, over https on the default port:

- ``smba.trafficmanager.net``: the public cloud, every regional path (``/amer/``, ``/emea/``, ``/apac/``, ``/in/``,
  ``/teams/``, …);
- ``smba.infra.gcc.teams.microsoft.com``: US Government Community Cloud (GCC);
- ``smba.infra.gov.teams.microsoft.us``: GCC High;
- ``smba.infra.dod.teams.microsoft.us``: US Department of Defense.

In emulator mode (``ENGAGEBOT_TEAMS_EMULATOR=1``, itself allowed only on a loopback ``HOST``) a connector or an
upload URL on a loopback address may also be http: the tests, ``engagebot demo`` and the Bot Framework Emulator
run their stand-ins there. An upload URL is otherwise any https URL (OneDrive and SharePoint hosts vary by tenant).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import SplitResult, urlsplit

__all__ = ["BOT_FRAMEWORK_HOSTS", "ServiceUrls"]

BOT_FRAMEWORK_HOSTS = frozenset(
    {
        "smba.trafficmanager.net",
        "smba.infra.gcc.teams.microsoft.com",
        "smba.infra.gov.teams.microsoft.us",
        "smba.infra.dod.teams.microsoft.us",
    }
)

KNOWN_URLS = 256  # serviceUrls whose answer is kept (a handful in practice)


def _split(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        return None
    return parts


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ServiceUrls:
    """The URL rules of one Teams adapter: ``emulator`` adds loopback http(s); ``also_trusted`` lists extra
    connector base URLs (only the offline tests of the authenticated mode, whose fake connector is local)."""

    def __init__(self, *, emulator: bool, also_trusted: Iterable[str] = ()) -> None:
        self.emulator = emulator
        self.also_trusted = tuple(also_trusted)
        self._connectors: dict[str, bool] = {}  # the answers so far: every activity names its serviceUrl

    def connector_allowed(self, url: str) -> bool:
        """May the bot send to (and store a reference with) this ``serviceUrl``?"""
        known = self._connectors.get(url)
        if known is None:
            if len(self._connectors) >= KNOWN_URLS:
                self._connectors.clear()
            known = self._connectors[url] = self._connector_allowed(url)
        return known

    def _connector_allowed(self, url: str) -> bool:
        parts = _split(url)
        if parts is None:
            return False
        if any(url.startswith(prefix) for prefix in self.also_trusted):
            return True
        host = (parts.hostname or "").lower()
        if parts.scheme == "https" and parts.port in (None, 443) and host in BOT_FRAMEWORK_HOSTS:
            return True
        return self.emulator and _is_loopback(host)

    def upload_allowed(self, url: str) -> bool:
        """May an export be PUT to this upload URL from a file-consent answer?"""
        parts = _split(url)
        if parts is None:
            return False
        if parts.scheme == "https":
            return True
        return self.emulator and _is_loopback(parts.hostname or "")
