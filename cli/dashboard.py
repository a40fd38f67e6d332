"""`engagebot dashboard-sessions`: list the dashboard's sessions, revoke one (or all), or make a local sign-in link.

``--new-link MEMBER`` is for a dashboard on this machine only (a loopback ``public_url``, e.g. to browse the demo's
data): on a server, admins get their links through chat, where Slack or Teams vouches for who asks.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from urllib.parse import urlsplit

from bot.config import Settings
from bot.config_values import is_loopback
from bot.dashboard.signin import SessionRecord, SignIn
from bot.errors import UsageError
from bot.timeutil import utc_now
from cli import EXIT_OK
from cli.members import check_member
from storage.repository import Repository
from storage.setup import close_engagement, open_engagement


def cmd_dashboard_sessions(settings: Settings, args: argparse.Namespace) -> int:
    if args.revoke is not None and args.new_link is not None:
        raise UsageError("give either --revoke or --new-link, not both")
    if args.revoke is not None and args.revoke != "all" and not (args.revoke.isascii() and args.revoke.isdigit()):
        raise UsageError(f"--revoke {args.revoke!r}: give a session id from the list, or all")
    if args.new_link is not None:
        check_local_link(settings, args.new_link)
    engagement = open_engagement(settings, args.db, existing=True)
    try:
        repo = engagement.store
        assert isinstance(repo, Repository)
        if args.new_link is not None:
            link = SignIn(repo, settings.is_admin, settings.public_url).issue(args.new_link)
            print(link.url)
            print(f"engagebot: the link works once, until {link.expires_at:%H:%M} UTC", file=sys.stderr)
        elif args.revoke is not None:
            revoke(repo, args.revoke)
        else:
            print(listing(repo.dashboard_sessions(), utc_now()))
    finally:
        close_engagement(engagement)
    return EXIT_OK


def check_local_link(settings: Settings, member: str) -> None:
    check_member(member)
    host = urlsplit(settings.public_url).hostname or ""
    if not settings.dashboard or not is_loopback(host):
        raise UsageError(
            "--new-link is for a dashboard on this machine only: public_url must be a loopback address such as "
            "http://127.0.0.1:3978 (on a server, admins ask the bot: /engage dashboard)"
        )
    if not settings.is_admin(member):
        raise UsageError(f"{member} is not in admins: only admins may sign in to the dashboard")


def revoke(repo: Repository, which: str) -> None:
    now = utc_now()
    if which == "all":
        ended = repo.end_dashboard_sessions(now, "revoked")
        print(f"revoked {ended} active session{'s' if ended != 1 else ''}")
        return
    session = repo.dashboard_session_by_id(int(which))
    if session is None:
        raise UsageError(f"no dashboard session {which}: `engagebot dashboard-sessions` lists them")
    if repo.end_dashboard_sessions(now, "revoked", session.id):
        print(f"revoked session {session.id} of {session.member_id}")
    else:
        print(f"session {session.id} of {session.member_id} had already ended ({session.state(now)})")


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M")


def listing(sessions: list[SessionRecord], now: datetime) -> str:
    """The sessions as a table (times in UTC), newest first."""
    if not sessions:
        return "no dashboard sessions"
    head = ("id", "member", "state", "created (UTC)", "expires (UTC)", "last seen (UTC)")
    rows = [
        (str(s.id), s.member_id, s.state(now), _when(s.created_at), _when(s.expires_at), _when(s.last_seen_at))
        for s in sessions
    ]
    widths = [max(len(row[i]) for row in (head, *rows)) for i in range(len(head))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in (head, *rows)
    )
