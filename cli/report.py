"""`engagebot report`: the leadership report of a range of ISO weeks, as one self-contained HTML file."""

from __future__ import annotations

import argparse
import gc
import sys
from datetime import UTC, datetime

from bot.config import Settings
from bot.errors import UsageError
from bot.service import REPORT_MAX_WEEKS, REPORT_WEEKS, Engagement
from bot.timeutil import IsoWeek, utc_now
from cli import EXIT_OK
from cli.output import check_output, write_output
from storage.setup import close_engagement, open_engagement


def cmd_report(settings: Settings, args: argparse.Namespace) -> int:
    first, last = report_period(settings, args)
    generated_at = generated(args.generated_at)
    name = args.output or Engagement.report_filename(first, last)
    target = None
    if name != "-":
        databases = {settings.database, *([args.db] if args.db else [])}
        target = check_output(name, force=args.force, databases=databases)
    engagement = open_engagement(settings, args.db, existing=True)
    # A one-shot process that makes hundreds of thousands of objects it keeps: the cyclic garbage collector would
    # walk them again and again for nothing (about a tenth of the time on a large history). The process ends soon.
    gc.disable()
    try:
        html = engagement.report_html(first, last, exact=args.exact, generated_at=generated_at)
    finally:
        gc.enable()
        close_engagement(engagement)
    if target is None:
        sys.stdout.write(html)
        return EXIT_OK
    write_output(target, html.encode("utf-8"))
    print(target)
    return EXIT_OK


def report_period(settings: Settings, args: argparse.Namespace) -> tuple[IsoWeek, IsoWeek]:
    """The first and last week: ``--from`` (default: 8 weeks before ``--to``) and ``--to`` (default: last week),
    or the last ``--weeks`` complete weeks."""
    now, tz = utc_now(), settings.timezone
    if args.weeks is not None and (args.from_week or args.to_week):
        raise UsageError("give either --weeks or --from/--to, not both")
    last = IsoWeek.parse(args.to_week or "last", now=now, tz=tz)
    first = (
        IsoWeek.parse(args.from_week, now=now, tz=tz) if args.from_week else last.back((args.weeks or REPORT_WEEKS) - 1)
    )
    if first > last:
        raise UsageError(f"--from {first} is after --to {last}")
    if first < last.back(REPORT_MAX_WEEKS - 1):
        raise UsageError(f"a report covers at most {REPORT_MAX_WEEKS} weeks: {first} to {last} is longer")
    return first, last


def generated(value: str | None) -> datetime | None:
    """``--generated-at``: an ISO 8601 time (UTC when it has no offset), pinned so two runs give the same bytes."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--generated-at {value!r} is not an ISO 8601 time such as 2026-12-01T09:00:00Z") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
