"""`engagebot export`: a week (or a range of weeks) of replies and reactions, or one member's data, as a file."""

from __future__ import annotations

import argparse
import json
import sys

from bot import export
from bot.config import Settings
from bot.errors import UsageError
from bot.timeutil import IsoWeek, utc_now
from bot.wording import plural
from cli import EXIT_OK
from cli.members import check_member
from cli.output import check_output, write_output
from storage.setup import close_engagement, open_engagement

WEEK_OPTIONS = ("week", "from_week", "to_week", "replies_only", "anonymous", "excel")


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    if args.member:
        check_member(args.member)
        given = [f"--{name.removesuffix('_week').replace('_', '-')}" for name in WEEK_OPTIONS if getattr(args, name)]
        if given:
            raise UsageError(f"--member exports everything about one member: it cannot be combined with {given[0]}")
    else:
        first, last = week_range(settings, args)
        if args.excel and args.format != "csv":
            raise UsageError("--excel writes CSV for spreadsheets: leave out --format json")
    target = None
    if args.output:
        databases = {settings.database, *([args.db] if args.db else [])}
        target = check_output(args.output, force=args.force, databases=databases)
    engagement = open_engagement(settings, args.db, existing=True)
    try:
        if args.member:
            what = f"the data of {args.member}"
            text = json.dumps(engagement.member_data(args.member), ensure_ascii=False, indent=2) + "\n"
        else:
            rows = engagement.export_rows(first, last, replies_only=args.replies_only)
            if args.anonymous:
                rows = export.anonymise(rows)
            what = f"{plural(len(rows), 'row')} of {first}" + (f"..{last}" if last != first else "")
            text = export.rows_to_csv(rows) if args.format == "csv" else export.rows_to_json(rows)
    finally:
        close_engagement(engagement)
    if args.excel:
        text = "\ufeff" + text  # UTF-8 with a byte-order mark: how Excel recognises UTF-8 (accented names)
    if target is None:
        sys.stdout.write(text)
        return EXIT_OK
    write_output(target, text.encode("utf-8"))
    print(f"wrote {what} to {args.output}", file=sys.stderr)
    return EXIT_OK


def week_range(settings: Settings, args: argparse.Namespace) -> tuple[IsoWeek, IsoWeek]:
    """The first and last week (inclusive) that ``--week`` or ``--from``/``--to`` name; default last week."""
    now, tz = utc_now(), settings.timezone
    if args.week and (args.from_week or args.to_week):
        raise UsageError("give either --week or --from/--to, not both")
    if args.to_week and not args.from_week:
        raise UsageError("--to needs --from (the first week of the range)")
    if not args.from_week:
        week = IsoWeek.parse(args.week or "last", now=now, tz=tz)
        return week, week
    first = IsoWeek.parse(args.from_week, now=now, tz=tz)
    last = IsoWeek.parse(args.to_week or "this", now=now, tz=tz)
    if first > last:
        raise UsageError(f"--from {first} is after --to {last}")
    return first, last
