"""`engagebot forget`: erase one member, after checking that they were ever seen and asking on a terminal.

Exit codes: 0 erased and scrubbed out of the files; 1 erased, but a reader kept the old text on disk (the scrub is
recorded in the database and completed by the next writer), or the question was answered no; 2 usage errors."""

from __future__ import annotations

import argparse
import sys

from bot.config import Settings
from bot.errors import UsageError
from bot.events import parse_member_id
from bot.wording import data_held, held_in
from cli import EXIT_FAILURE, EXIT_OK
from storage.setup import close_engagement, member_ids_like, open_engagement

# How long `forget` waits for other programs reading the database before it leaves the scrub of the files on record.
FORGET_WAIT_SECONDS = 10.0


def check_member(value: str) -> None:
    try:
        parse_member_id(value)
    except ValueError as err:
        raise UsageError(f"--member: {err}") from None


def cmd_forget(settings: Settings, args: argparse.Namespace) -> int:
    member = args.member
    check_member(member)
    engagement = open_engagement(settings, args.db, existing=True)
    try:
        stored = member_ids_like(engagement, member)
        if member not in stored:
            hint = f"; ids are case-sensitive: did you mean {' or '.join(stored)}?" if stored else ""
            raise UsageError(f"{member} was never seen: nothing is stored about them{hint}")
        if not args.yes:
            data = engagement.member_data(member)
            held = ", ".join(held_in(data, every_kind=True))
            question = (
                f"Erase everything stored about {member} ({held}) and stop capturing them? This cannot be undone."
            )
            if not confirm(question):
                print("engagebot: nothing erased", file=sys.stderr)
                return EXIT_FAILURE
        counts = engagement.opt_out(member, requested_by="cli", reason="forget", scrub_wait=FORGET_WAIT_SECONDS)
    finally:
        close_engagement(engagement)
    erased = ", ".join(
        data_held(counts.replies, counts.reactions, counts.dashboard_links, counts.dashboard_sessions, every_kind=True)
    )
    print(
        f"erased {member}: {erased}; capture stopped "
        "(the member can resume with optin; nothing from before that is ever stored again)"
    )
    if not counts.scrubbed:
        print(
            f"engagebot: the erased text is still in the database files: another program (a sqlite3 shell, "
            f"datasette, a backup) kept reading them for {FORGET_WAIT_SECONDS:g} s; the scrub is recorded and "
            "the next write to the database completes it once that program closes (serve checks every minute)",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    return EXIT_OK


def confirm(question: str) -> bool:
    """Ask a yes/no question on the terminal; without a terminal, refuse (scripts pass --yes)."""
    try:
        interactive = sys.stdin is not None and sys.stdin.isatty()
    except (OSError, ValueError):
        interactive = False
    if not interactive:
        raise UsageError("forget asks before erasing, and standard input is not a terminal: pass --yes to confirm")
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")
