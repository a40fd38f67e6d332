"""engagebot's composition root: configuration, storage, adapters, the aiohttp server, the scheduler and the CLI."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from bot.config import EXAMPLE_CONFIG, Settings, load_settings
from bot.config_values import channel_id_of
from bot.errors import BotError, ConfigError, StorageError, UsageError
from bot.events import Platform
from bot.summary import render_text
from cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from cli.dashboard import cmd_dashboard_sessions
from cli.export import cmd_export
from cli.members import cmd_forget
from cli.report import cmd_report
from storage.setup import close_engagement, open_engagement

logger = logging.getLogger("engagebot")


class CliUsageError(Exception):
    """Raised by the argument parser instead of printing usage and exiting."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CliUsageError(f"{self.prog}: {message}")


def build_parser() -> Parser:
    parser = Parser(
        prog="engagebot",
        description="Posts themed discussion prompts to Slack and Teams, captures thread replies and reactions "
        "into SQLite, and summarises engagement weekly.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True

    sub.add_parser("serve", help="run the bot: HTTP endpoints, scheduler and reconciliation")

    demo = sub.add_parser("demo", help="simulate several weeks of members on both platforms and print a summary")
    demo.add_argument("--db", default="data/demo.db", help="SQLite file to (re)create (default: data/demo.db)")
    demo.add_argument("--weeks", type=_positive_int, default=6, help="weeks to simulate (default: 6)")
    demo.add_argument("--seed", type=int, default=48, help="random seed; the same seed gives the same data")

    post = sub.add_parser("post", help="post the next prompt now (every configured channel unless narrowed)")
    post.add_argument("--theme", help="post a prompt of this theme")
    post.add_argument("--platform", choices=[p.value for p in Platform], help="only channels of this platform")
    post.add_argument("--channel", help="only this channel id (with --platform)")
    post.add_argument("--dry-run", action="store_true", help="show what would be posted; post nothing")

    summary = sub.add_parser("summary", help="the engagement summary of one week")
    summary.add_argument("--week", default="last", help="YYYY-Www, 'this' or 'last' (default: last)")
    summary.add_argument("--json", action="store_true", help="print the JSON object instead of a report")
    _db_argument(summary)

    export = sub.add_parser("export", help="replies and reactions of a week (or weeks) as CSV or JSON")
    export.add_argument("--week", help="YYYY-Www, 'this' or 'last' (default: last)")
    export.add_argument("--from", dest="from_week", metavar="W", help="first week of a range (YYYY-Www)")
    export.add_argument("--to", dest="to_week", metavar="W", help="last week of the range, included (default: this)")
    export.add_argument("--format", choices=["csv", "json"], default="csv", help="output format (default: csv)")
    export.add_argument("--replies-only", action="store_true", help="replies only, no reaction rows")
    export.add_argument("--anonymous", action="store_true", help="pseudonyms instead of member ids; no names")
    export.add_argument("--excel", action="store_true", help="CSV as Excel opens it: UTF-8 with a byte-order mark")
    export.add_argument("--output", help="write to this new file instead of standard output")
    export.add_argument("--force", action="store_true", help="let --output replace an existing file")
    export.add_argument("--member", help="instead: everything stored about one member (JSON), e.g. slack:U123")
    _db_argument(export)

    report = sub.add_parser("report", help="the leadership report of recent weeks: one self-contained HTML file")
    report.add_argument("--from", dest="from_week", metavar="W", help="first week (YYYY-Www)")
    report.add_argument("--to", dest="to_week", metavar="W", help="last week, included (default: last week)")
    report.add_argument("--weeks", type=_positive_int, help="the last N complete weeks (default: 8)")
    report.add_argument(
        "--output",
        metavar="PATH",
        help="file to write, '-' for standard output (default: report-<from>-<to>.html here)",
    )
    report.add_argument("--exact", action="store_true", help="exact figures, no small-group suppression: internal use")
    report.add_argument("--force", action="store_true", help="replace an existing output file")
    report.add_argument("--generated-at", metavar="ISO", help="the time the report says it was made (default: now)")
    _db_argument(report)

    prompts = sub.add_parser("prompts", help="the prompt library, with when each prompt was last posted")
    prompts.add_argument("--json", action="store_true", help="print a JSON list of {theme, prompt, last_posted}")
    _db_argument(prompts)

    forget = sub.add_parser("forget", help="erase everything stored about a member and stop capturing them")
    forget.add_argument("--member", required=True, help="member id, e.g. slack:U123 or teams:29:1abc")
    forget.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    _db_argument(forget)

    package = sub.add_parser("teams-package", help="build the Teams app package (zip) to upload to Teams")
    package.add_argument("--app-id", help="the Azure Bot's Microsoft App ID (default: $MicrosoftAppId)")
    package.add_argument("--output", default="engagebot-teams.zip", help="zip to write (default: engagebot-teams.zip)")
    package.add_argument("--name", default="engagebot", help="the app's short name in Teams (default: engagebot)")
    package.add_argument("--version", default="1.0.0", help="app version, e.g. 1.0.0")
    package.add_argument("--developer", default="engagebot", help="developer name shown in Teams")
    package.add_argument("--website-url", default="https://example.org/engagebot", help="developer website URL")
    package.add_argument("--privacy-url", default="", help="privacy statement URL (default: the website URL)")
    package.add_argument("--terms-url", default="", help="terms of use URL (default: the website URL)")

    reconcile = sub.add_parser(
        "reconcile", help="catch up on Slack threads and reactions missed while the bot was down"
    )
    reconcile.add_argument(
        "--days", type=_positive_int, help="reconcile posts of the last N days (default: reconcile_days, 7)"
    )

    sessions = sub.add_parser("dashboard-sessions", help="list the dashboard's sign-in sessions, or revoke them")
    sessions.add_argument("--revoke", metavar="ID", help="end the session with this id (from the list), or all")
    sessions.add_argument(
        "--new-link", metavar="MEMBER", help="print a sign-in link for this admin (a loopback public_url only)"
    )
    _db_argument(sessions)

    local = sub.add_parser("dashboard-local", help="the dashboard alone, on 127.0.0.1, with a sign-in link")
    local.add_argument("--as", dest="member", metavar="MEMBER", help="the admin to sign in (default: the only admin)")
    local.add_argument("--port", type=_port, default=3978, help="port on 127.0.0.1 (default: 3978)")
    _db_argument(local)
    sub.add_parser(
        "check", help="check the setup: configuration, Slack and Teams credentials, channels, the next posts"
    )
    return parser


def _db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="PATH", help="an existing SQLite file (default: ENGAGEBOT_DB or database)")


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be at least 1")
    return number


def _port(value: str) -> int:
    number = _positive_int(value)
    if number > 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a TCP port (1-65535)")
    return number


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
        stream=sys.stderr,
        force=True,
    )
    if level != "DEBUG":  # the SDKs log payloads at DEBUG only, but keep their chatter out of INFO
        for noisy in (
            "slack_bolt",
            "slack_sdk",
            "botbuilder",
            "botframework",
            "msrest",
            "msal",
            "urllib3",
            "aiohttp.access",
        ):
            logging.getLogger(noisy).setLevel(logging.WARNING)


# -- commands ------------------------------------------------------------------------------------------------


def cmd_summary(settings: Settings, args: argparse.Namespace) -> int:
    engagement = open_engagement(settings, args.db, existing=True)
    try:
        week = engagement.week(args.week)
        summary = engagement.summary(week)
        if args.json:
            print(json.dumps(summary.as_json(), ensure_ascii=False, indent=2))
        else:
            print(render_text(summary))
    finally:
        close_engagement(engagement)
    return EXIT_OK


def cmd_prompts(settings: Settings, args: argparse.Namespace) -> int:
    engagement = open_engagement(settings, args.db, existing=True)
    try:
        listing = engagement.prompt_listing()
    finally:
        close_engagement(engagement)
    if args.json:
        print(json.dumps(listing, ensure_ascii=False, indent=2))
        return EXIT_OK
    theme = None
    for item in listing:
        if item["theme"] != theme:
            theme = item["theme"]
            print(f"\n{theme}" if theme != listing[0]["theme"] else theme)
        print(f"  - {item['prompt']}\n    last posted: {item['last_posted'] or 'never'}")
    return EXIT_OK


def cmd_post(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.posting import post_prompts

    channel = args.channel
    if channel and not args.platform:
        raise UsageError("--channel needs --platform (slack or teams)")
    if channel:
        channel, problem = channel_id_of(Platform(args.platform), channel)
        if problem:
            raise UsageError(f"--channel {problem}")
    return asyncio.run(
        post_prompts(settings, platform=args.platform, channel=channel, theme=args.theme, dry_run=args.dry_run)
    )


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.demo.run import run_demo

    if "LOG_LEVEL" not in os.environ:  # the demo's own report is the output; per-event lines would bury it
        configure_logging("ERROR")
    return asyncio.run(run_demo(settings, Path(args.db), weeks=args.weeks, seed=args.seed))


def cmd_reconcile(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.reconcile import reconcile_now

    return asyncio.run(reconcile_now(settings, args.days))


def _require_config(settings: Settings) -> None:
    if not settings.config_found:
        raise ConfigError(
            f"not found: start from the example (cp {EXAMPLE_CONFIG} {Path(settings.config_path).name}), then set "
            "your channels and admins; or point ENGAGEBOT_CONFIG at your file",
            source=settings.config_path,
        )


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.server import serve

    _require_config(settings)
    with asyncio.Runner(loop_factory=_serve_loop_factory()) as runner:
        return runner.run(serve(settings))


def _serve_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop for ``serve`` where it is installed (not on Windows), else asyncio's own: the same
    asyncio API, with the transport and scheduling in C (docs/PERFORMANCE.md, "The hot path now")."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def cmd_dashboard_local(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.dashboard.local import serve_local

    return asyncio.run(serve_local(settings, args.db, args.port, args.member))


def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.check import run_check

    _require_config(settings)
    return asyncio.run(run_check(settings))


def cmd_teams_package(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.teams_package import build_package

    app_id = args.app_id or settings.teams.app_id
    if not app_id:
        raise UsageError("give --app-id or set MicrosoftAppId: the package names the Azure Bot it talks to")
    path = build_package(
        app_id,
        Path(args.output),
        name=args.name,
        version=args.version,
        developer=args.developer,
        website_url=args.website_url,
        privacy_url=args.privacy_url,
        terms_url=args.terms_url,
    )
    print(f"wrote {path}: upload it in Teams (Apps > Manage your apps > Upload an app)")
    missing = [
        name for name, value in (("--privacy-url", args.privacy_url), ("--terms-url", args.terms_url)) if not value
    ]
    if missing:
        print(
            f"engagebot: warning: without {' and '.join(missing)} the package links {args.website_url} instead: "
            "give your organisation's own pages before publishing the app",
            file=sys.stderr,
        )
    return EXIT_OK


COMMANDS = {
    "serve": cmd_serve,
    "demo": cmd_demo,
    "post": cmd_post,
    "summary": cmd_summary,
    "export": cmd_export,
    "report": cmd_report,
    "prompts": cmd_prompts,
    "forget": cmd_forget,
    "teams-package": cmd_teams_package,
    "reconcile": cmd_reconcile,
    "dashboard-sessions": cmd_dashboard_sessions,
    "dashboard-local": cmd_dashboard_local,
    "check": cmd_check,
}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except CliUsageError as err:
        print(err, file=sys.stderr)
        return EXIT_USAGE
    try:
        settings = load_settings()
        configure_logging(settings.log_level)
        return COMMANDS[args.command](settings, args)
    except (ConfigError, UsageError, StorageError) as err:  # the user can fix these: exit 2, one line
        print(f"engagebot: {err}", file=sys.stderr)
        return EXIT_USAGE
    except BotError as err:
        print(f"engagebot: {err}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # a bug or an environment failure: one line for the user, the traceback at DEBUG
        logger.debug("unexpected error", exc_info=True)
        print(
            f"engagebot: unexpected error: {type(err).__name__}: {err} (LOG_LEVEL=DEBUG shows details)", file=sys.stderr
        )
        return EXIT_FAILURE


def _ignore_sigpipe() -> None:
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)


def run() -> Any:
    _ignore_sigpipe()
    sys.exit(main())


if __name__ == "__main__":
    run()
