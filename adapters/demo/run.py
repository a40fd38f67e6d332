"""`engagebot demo`: several weeks of simulated members on Slack and Teams, through the real adapters.

The bot runs in-process on 127.0.0.1 with local stand-ins for Slack's Web API and the Bot Framework
connector. Prompts go out through the scheduler's code path on a simulated clock; members' replies,
reactions, edits and deletions arrive as signed Slack events and Bot Framework activities over HTTP.
No credentials and no network are needed.
"""

from __future__ import annotations

import itertools
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.demo.driver import DemoTotals, Simulation
from adapters.demo.standins import (
    SLACK_ADMIN_CHANNEL,
    SLACK_CHANNEL,
    SLACK_WORKFORCE,
    TEAMS_CHANNEL,
    WORKFORCE_THEMES,
    DemoClock,
    SlackStandIn,
    TeamsStandIn,
    slack_ts,
    teams_id,
)
from adapters.runtime import Runtime
from bot.config import ChannelConfig, Settings, SlackSettings, TeamsSettings
from bot.demo import make_members, plan_thread
from bot.errors import StorageError, UsageError
from bot.events import Platform
from bot.model import PostRecord
from bot.scheduler import Scheduler
from bot.summary import render_text
from bot.timeutil import IsoWeek, utc_now
from bot.wording import plural
from storage.repository import Repository

DEMO_ADMIN = "slack:UDEMOADMIN"


def demo_settings(settings: Settings, db: Path, slack_api: str, secret: str) -> Settings:
    return replace(
        settings,
        database=str(db),
        admins=frozenset({DEMO_ADMIN, "teams:29:1demoadmin"}),
        channels=(
            ChannelConfig(Platform.SLACK, SLACK_CHANNEL),
            ChannelConfig(Platform.SLACK, SLACK_WORKFORCE, WORKFORCE_THEMES),
            ChannelConfig(Platform.TEAMS, TEAMS_CHANNEL),
        ),
        summary_channels=(ChannelConfig(Platform.SLACK, SLACK_ADMIN_CHANNEL),),
        slack=SlackSettings(bot_token="xoxb-demo", signing_secret=secret, app_token="", api_url=slack_api),
        # Emulator mode: the demo's stand-in connector is local and checks no tokens (only on 127.0.0.1).
        teams=TeamsSettings(app_id="", app_password="", app_type="MultiTenant", tenant_id="", emulator=True),
    )


def check_demo_file(db: Path) -> None:
    """Refuse to replace a file that holds anything but demo data. An engagebot database without posts is not the
    demo's either: it may hold opt-outs and the erasure audit."""
    if not db.exists() and not db.is_symlink():
        return
    try:
        channels = Repository.post_channels(db)
    except StorageError:  # not an engagebot database
        channels = set()
    if not channels or not channels <= {SLACK_CHANNEL, SLACK_WORKFORCE, TEAMS_CHANNEL}:
        raise UsageError(
            f"{db} holds data that is not from the demo (the demo only replaces its own files): use another --db"
        )
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


async def simulate(
    settings: Settings, db: Path, *, weeks: int, seed: int, now: datetime | None = None
) -> tuple[Runtime, IsoWeek, DemoTotals]:
    """Run the simulation into ``db``; returns the (open) runtime, the last full week and what was sent."""
    check_demo_file(db)
    rng = random.Random(seed)
    tz = settings.timezone
    current_week = IsoWeek.containing(now or utc_now(), tz)
    first = current_week
    for _ in range(weeks):
        first = first.previous()
    clock = DemoClock(first.bounds(tz)[0])
    slack_api = SlackStandIn(clock)
    teams_api = TeamsStandIn(clock)
    secret = secrets.token_hex(16)
    slack_members = make_members(rng, Platform.SLACK, 30)
    teams_members = make_members(rng, Platform.TEAMS, 20)
    slack_api.names.update({m.user_id: m.name for m in slack_members})

    async with TestServer(slack_api.app(), host="127.0.0.1") as slack_server:
        with teams_api.running() as service_url:
            config = demo_settings(settings, db, str(slack_server.make_url("/api/")), secret)
            # The demo posts its prompts on Tuesdays 10:00 and its summaries on Mondays 09:00 (the defaults).
            runtime = Runtime.build(config)
            if runtime.teams is not None:
                runtime.teams.poster.now = clock.now
            scheduler = Scheduler(runtime.engagement, runtime.posters, runtime.repo, clock)
            client: TestClient[web.Request, web.Application] = TestClient(
                TestServer(runtime.web_app(), host="127.0.0.1")
            )
            await client.start_server()
            try:
                sim = Simulation(
                    client,
                    secret,
                    service_url,
                    clock,
                    response_url=str(slack_server.make_url("/api/response")),
                    quote_emoji=config.quote_emoji,
                )
                await sim.install_teams()
                week = first
                for index in range(weeks):
                    week_start = week.bounds(tz)[0]
                    # Monday 09:00: the weekly summary; Tuesday 10:00: the prompts.
                    for day, hour in ((0, 9), (1, 10)):
                        clock.current = (week_start + timedelta(days=day, hours=hour)).astimezone(UTC)
                        await scheduler.tick()
                    factor = 0.7 + 0.6 * rng.random() + 0.05 * index  # engagement grows a little each week
                    posts = runtime.repo.posts_between(*week.bounds(tz))
                    for post in posts:
                        everyone = slack_members if post.platform is Platform.SLACK else teams_members
                        members = everyone[: joined(len(everyone), index)]
                        plan = plan_thread(
                            rng, members, post.message_id, post.posted_at, _id_maker(post), factor, theme=post.theme
                        )
                        if post.platform is Platform.SLACK:
                            await sim.play_slack(plan, post.message_id, post.channel_id)
                        else:
                            await sim.play_teams(plan, post.message_id)
                        await sim.play_consents(plan, post.channel_id)
                        sim.totals.posts += 1
                        sim.totals.expect(plan)
                    week = _next_week(week)
            finally:
                await client.close()
    return runtime, current_week.previous(), sim.totals


def joined(members: int, week_index: int) -> int:
    """How many of a platform's members have found the prompts by a week: a third at first, then a few more each
    week, as a community grows (so each week has some new participants, not only the first)."""
    return min(members, members // 3 + week_index * max(3, members // 6))


def _id_maker(post: PostRecord) -> Callable[[datetime], str]:
    """Message ids for one thread: the platform's id for a time, made unique by a serial."""
    serial = itertools.count(1)
    make = slack_ts if post.platform is Platform.SLACK else teams_id
    return lambda at: make(at, next(serial))


def _next_week(week: IsoWeek) -> IsoWeek:
    year, number, _ = (week.monday() + timedelta(days=7)).isocalendar()
    return IsoWeek(year, number)


REPORT_MARK = "Made by engagebot"  # in every report's footer: how the demo knows a report file is one it may replace


def report_path(db: Path) -> Path:
    """Where the demo writes its leadership report: next to its database (data/demo.db -> data/demo-report.html)."""
    return db.with_name(f"{db.stem}-report.html")


def check_report_file(path: Path) -> None:
    """Refuse to replace a file that is not an engagebot report (the demo only replaces its own files)."""
    if path.is_dir() or (path.exists() and REPORT_MARK not in path.read_text(encoding="utf-8", errors="replace")):
        raise UsageError(f"{path} is not a report the demo wrote: move it away or use another --db")


def write_report(runtime: Runtime, path: Path, first: IsoWeek, last: IsoWeek) -> None:
    html = runtime.engagement.report_html(first, last)
    partial = path.with_name(path.name + ".part")
    partial.write_text(html, encoding="utf-8")
    partial.replace(path)


async def run_demo(settings: Settings, db: Path, *, weeks: int, seed: int) -> int:
    started = time.monotonic()
    report = report_path(db)
    check_report_file(report)
    runtime, last_week, totals = await simulate(settings, db, weeks=weeks, seed=seed)
    first_week = last_week.back(weeks - 1)
    try:
        print(render_text(runtime.engagement.summary(last_week)))
        write_report(runtime, report, first_week, last_week)
    finally:
        runtime.close()
    print(
        f"\nSimulated {plural(weeks, 'week')}: {plural(totals.posts, 'prompt')} posted by the scheduler, "
        f"{plural(totals.slack_events, 'signed Slack request')} and "
        f"{plural(totals.teams_activities, 'Teams activity')} "
        f"sent through the adapters "
        f"({time.monotonic() - started:.1f} s).\n"
        f"\nLook at the data:\n"
        f"  .venv/bin/engagebot summary --db {db} --week {last_week} --json\n"
        f"  .venv/bin/engagebot export --db {db} --week {last_week}\n"
        f"  .venv/bin/engagebot report --db {db} --from {first_week} --to {last_week} --output report.html\n"
        f"  .venv/bin/pip install datasette && .venv/bin/datasette {db}\n"
        f"\nBrowse it in the dashboard, on this machine only (prints a sign-in link):\n"
        f"  .venv/bin/engagebot dashboard-local --db {db} --as {DEMO_ADMIN}\n"
        f"\nThe leadership report of {'this week' if weeks == 1 else f'these {weeks} weeks'} "
        f"(open it in a browser):\n{report}"
    )
    return 0
