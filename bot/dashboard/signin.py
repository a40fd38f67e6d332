"""Signing in to the dashboard without a password: a single-use link sent through chat, then a server-side session.

The secrets (a link's token, a session's cookie value) are 32 random bytes from ``secrets``, URL-safe base64. Only
their SHA-256 is stored, with the admin's member id: reading the database gives no way in. A stored hash is looked up
by the hash of what the browser sent, then compared with ``hmac.compare_digest``.

- A link works once, for ``TOKEN_TTL``; redeeming it is atomic (two concurrent redemptions give one session), and is
  refused when its member is no longer an admin.
- A session lasts ``SESSION_TTL`` from sign-in whatever the activity; it ends earlier by sign-out, by
  ``engagebot dashboard-sessions --revoke``, or when its member is found no longer to be an admin.
- Form values that protect a POST (CSRF) are an HMAC keyed by a secret only that browser holds (the session cookie,
  or the sign-in page's own cookie), so no server-side key is needed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from bot.timeutil import utc_now

logger = logging.getLogger(__name__)

TOKEN_TTL = timedelta(minutes=10)
SESSION_TTL = timedelta(hours=8)
SEEN_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often per session
SECRET_BYTES = 32
_SECRET = re.compile(r"[A-Za-z0-9_-]{43}")  # 32 bytes in URL-safe base64, unpadded


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def well_formed(value: str | None) -> bool:
    """Whether ``value`` has the shape of a secret this module makes (anything else is refused unread)."""
    return value is not None and _SECRET.fullmatch(value) is not None


def digest(secret: str) -> str:
    """What is stored of a secret: its SHA-256, hex."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time equality of two hashes or form values."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def form_value(key: str, purpose: str) -> str:
    """The CSRF value of a form: an HMAC of ``purpose`` keyed by a secret of the browser's (a cookie value)."""
    return hmac.new(key.encode("ascii"), purpose.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenRecord:
    token_hash: str
    member_id: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    id: int
    session_hash: str
    member_id: str
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime | None
    ended_at: datetime | None
    ended_by: str | None

    def state(self, now: datetime) -> str:
        """``active``, ``expired``, or how it ended (``signed out``, ``revoked``, ``no longer admin``)."""
        if self.ended_by is not None:
            return self.ended_by
        return "active" if now < self.expires_at else "expired"


class SignInStore(Protocol):
    """The storage the sign-in needs (``storage.dashboard.DashboardRecords``)."""

    def save_dashboard_token(
        self, token_hash: str, member: str, created_at: datetime, expires_at: datetime
    ) -> None: ...
    def dashboard_token(self, token_hash: str) -> TokenRecord | None: ...
    def start_dashboard_session(
        self, token_hash: str, session_hash: str, now: datetime, expires_at: datetime
    ) -> SessionRecord | None: ...
    def dashboard_session(self, session_hash: str) -> SessionRecord | None: ...
    def touch_dashboard_session(self, session_id: int, now: datetime, *, unless_since: datetime) -> None: ...
    def end_dashboard_sessions(self, now: datetime, by: str, session_id: int | None = None) -> int: ...


class Denied(StrEnum):
    """Why a sign-in or a request is refused."""

    NO_SESSION = "no session"  # no cookie, or one that is unknown, expired or ended
    NOT_ADMIN = "not an admin"  # the member is no longer in admins
    BAD_LINK = "bad link"  # unknown, used or expired token


class Refused(Exception):
    def __init__(self, why: Denied) -> None:
        super().__init__(why.value)
        self.why = why


@dataclass(frozen=True, slots=True)
class Link:
    url: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Started:
    """A new session: the cookie value (given to the browser once, never stored) and its record."""

    secret: str
    session: SessionRecord


class SignIn:
    """Issues links, redeems them into sessions, and checks the session of every request."""

    def __init__(
        self,
        store: SignInStore,
        is_admin: Callable[[str], bool],
        public_url: str,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.is_admin = is_admin
        self.public_url = public_url
        self.clock = clock

    def issue(self, member: str) -> Link:
        """A single-use sign-in link for ``member`` (the caller checked that they are an admin)."""
        token, now = new_secret(), self.clock()
        expires_at = now + TOKEN_TTL
        self.store.save_dashboard_token(digest(token), member, now, expires_at)
        return Link(f"{self.public_url}/dashboard/login/{token}", expires_at)

    def redeem(self, token: str) -> Started:
        """Use a link once: a new session for its member, or Refused (and nothing changes)."""
        if not well_formed(token):
            raise Refused(Denied.BAD_LINK)
        token_hash, now = digest(token), self.clock()
        record = self.store.dashboard_token(token_hash)
        if record is None or not same(record.token_hash, token_hash):
            raise Refused(Denied.BAD_LINK)
        if record.used_at is not None or now >= record.expires_at:
            raise Refused(Denied.BAD_LINK)
        if not self.is_admin(record.member_id):
            raise Refused(Denied.NOT_ADMIN)
        secret = new_secret()
        session = self.store.start_dashboard_session(token_hash, digest(secret), now, now + SESSION_TTL)
        if session is None:  # another request used it first, or it expired in between
            raise Refused(Denied.BAD_LINK)
        logger.info("dashboard sign-in member=%s session=%s", session.member_id, session.id)
        return Started(secret, session)

    def session(self, secret: str | None) -> SessionRecord:
        """The active session of a cookie value, its member still an admin; else Refused."""
        if secret is None or not well_formed(secret):
            raise Refused(Denied.NO_SESSION)
        session_hash, now = digest(secret), self.clock()
        record = self.store.dashboard_session(session_hash)
        if record is None or not same(record.session_hash, session_hash) or record.state(now) != "active":
            raise Refused(Denied.NO_SESSION)
        if not self.is_admin(record.member_id):
            self.store.end_dashboard_sessions(now, "no longer admin", record.id)
            logger.info("dashboard session ended session=%s reason=not-admin", record.id)
            raise Refused(Denied.NOT_ADMIN)
        self.store.touch_dashboard_session(record.id, now, unless_since=now - SEEN_EVERY)
        return record

    def sign_out(self, session: SessionRecord) -> None:
        self.store.end_dashboard_sessions(self.clock(), "signed out", session.id)
        logger.info("dashboard sign-out session=%s", session.id)
