"""`engagebot check`: is the setup complete? One line per check, ✓ or ✗ with the fix, then the verdict.

Exit codes: **0** when every check passes; **2** when the configuration is wrong: the file or a variable (found
before this runs), a token or password the platform refuses, no channel to post prompts to; **1** when the
configuration is right but something is not ready: a platform cannot be reached, or the bot cannot post in a
configured channel yet (not invited to it, Teams not yet told about it).

Nothing is posted and nothing is captured. An existing database is only read (and brought to the current schema, as
every command does); a missing one is not created.

One module, one concern: the checks of the setup, run in order, each reporting into the same Report and its verdict.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TextIO, TypeVar
from zoneinfo import ZoneInfo

from botbuilder.integration.aiohttp import ConfigurationServiceClientCredentialFactory
from botframework.connector.auth import AuthenticationConstants

from adapters.slack.poster import build_client
from adapters.slack.probe import API_ERRORS, TokenRefused, channel_access, error_name, open_socket_url, verify_bot_token
from bot.config import Settings, SlackSettings, TeamsSettings
from bot.errors import StorageError
from bot.events import Platform
from bot.prompts import load_library
from bot.scheduler_time import next_slot
from bot.wording import plural
from storage.repository import Repository
from storage.setup import check_channel_themes

__all__ = ["EXIT_CONFIG", "EXIT_NOT_READY", "Report", "run_check"]

EXIT_NOT_READY, EXIT_CONFIG = 1, 2
CALL_SECONDS = 20.0  # the longest one question to a platform may take
T = TypeVar("T")


class Report:
    """The lines printed so far and the worst outcome among them."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.config_problems = 0
        self.other_problems = 0

    def ok(self, text: str) -> None:
        print(f"✓ {text}", file=self.out)

    def bad(self, text: str, *, config: bool = False, counted: bool = True) -> None:
        """A failed check; ``config``: the configuration must change; not ``counted``: a consequence of another."""
        print(f"✗ {text}", file=self.out)
        if counted:
            if config:
                self.config_problems += 1
            else:
                self.other_problems += 1

    def exit_code(self) -> int:
        if self.config_problems:
            return EXIT_CONFIG
        return EXIT_NOT_READY if self.other_problems else 0

    def verdict(self) -> None:
        problems = self.config_problems + self.other_problems
        if not problems:
            print("engagebot check: all is well", file=self.out)
        else:
            print(
                f"engagebot check: {plural(problems, 'problem')}: fix "
                f"{'them' if problems > 1 else 'it'} as shown above, then run engagebot check again",
                file=self.out,
            )


async def run_check(
    settings: Settings,
    *,
    teams_credentials: Any = None,
    out: TextIO | None = None,
    now: datetime | None = None,
) -> int:
    """Run every check and print it; returns the exit code.

    ``teams_credentials``: a botframework ``ServiceClientCredentialsFactory`` to get the Bot Framework token from
    (default: the one botbuilder builds from the configuration, which asks Microsoft Entra through MSAL).
    """
    report = Report(out or sys.stdout)
    check_channel_themes(settings, load_library(settings.prompt_library))  # ConfigError: one line, exit code 2
    report.ok(f"configuration: {settings.config_path}")
    repo = _database(settings, report)
    try:
        if settings.slack is None and not (settings.teams.app_id or settings.teams.emulator):
            report.bad(
                "platforms: neither Slack nor Teams is configured: set SLACK_BOT_TOKEN (docs/SLACK.md) or "
                "MicrosoftAppId (docs/TEAMS.md)",
                config=True,
            )
        if settings.slack is not None:
            await _slack(settings.slack, _channels(settings, Platform.SLACK), report)
        if settings.teams.app_id or settings.teams.emulator:
            await _teams(settings.teams, _channels(settings, Platform.TEAMS), repo, report, teams_credentials)
        _schedule(settings, report, now or datetime.now(UTC))
    finally:
        if repo is not None:
            repo.close()
    report.verdict()
    return report.exit_code()


def _channels(settings: Settings, platform: Platform) -> dict[str, list[str]]:
    """Each configured channel of ``platform`` once, with what it is for."""
    roles: dict[str, list[str]] = {}
    for role, listed in (("prompts", settings.channels), ("summaries", settings.summary_channels)):
        for channel in listed:
            if channel.platform is platform and role not in roles.setdefault(channel.id, []):
                roles[channel.id].append(role)
    return roles


def _database(settings: Settings, report: Report) -> Repository | None:
    path = settings.database
    if path != ":memory:" and not Path(path).is_file():
        report.ok(f"database: {path} does not exist yet; engagebot serve creates it")
        return None
    try:
        repo = Repository.open(path)
    except StorageError as err:
        report.bad(
            f"database: {err}: point ENGAGEBOT_DB (or database in the configuration) at engagebot's file", config=True
        )
        return None
    report.ok(f"database: {path}")
    return repo


# -- Slack --------------------------------------------------------------------------------------------------------


async def _slack(settings: SlackSettings, channels: dict[str, list[str]], report: Report) -> None:
    client = build_client(settings)
    unreachable = f"cannot reach Slack at {settings.api_url}"
    signed_in = False
    try:
        identity = await asyncio.wait_for(verify_bot_token(client), CALL_SECONDS)
        report.ok(f"Slack: the bot token signs in as @{identity.user} to the workspace {identity.team}")
        signed_in = True
    except TokenRefused as refused:
        report.bad(f"Slack: {refused.config_error()}", config=True)
    except API_ERRORS as err:
        report.bad(f"Slack: {unreachable} ({error_name(err)}): check the network, a proxy or a firewall")
    if settings.app_token and signed_in:
        try:
            await asyncio.wait_for(open_socket_url(client, settings.app_token), CALL_SECONDS)
            report.ok("Slack Socket Mode: the app-level token may open connections")
        except TokenRefused as refused:
            report.bad(f"Slack Socket Mode: {refused.config_error()}", config=True)
        except API_ERRORS as err:
            report.bad(f"Slack Socket Mode: {unreachable} ({error_name(err)}): try again in a minute")
    for channel_id, roles in channels.items():
        label = f"Slack channel {channel_id} ({', '.join(roles)})"
        if not signed_in:
            report.bad(f"{label}: not checked: Slack must accept the bot token first", counted=False)
            continue
        try:
            access = await asyncio.wait_for(channel_access(client, channel_id), CALL_SECONDS)
        except API_ERRORS as err:
            report.bad(f"{label}: Slack did not answer ({error_name(err)}): try again in a minute")
            continue
        if access.name:
            label = f"Slack channel #{access.name} {channel_id} ({', '.join(roles)})"
        if access.problem:
            report.bad(f"{label}: {access.problem}")
        else:
            report.ok(f"{label}: the bot is a member and can post")


# -- Teams --------------------------------------------------------------------------------------------------------

AADSTS = re.compile(r"AADSTS\d+")
OAUTH_ERROR = re.compile(r"error: ([a-z_]+)")


async def _teams(
    settings: TeamsSettings, channels: dict[str, list[str]], repo: Repository | None, report: Report, factory: Any
) -> None:
    if settings.emulator:
        report.ok("Teams: emulator mode (ENGAGEBOT_TEAMS_EMULATOR=1): no credentials to check; for local use only")
    else:
        await _teams_token(settings, factory, report)
    for channel_id, roles in channels.items():
        label = f"Teams channel {channel_id} ({', '.join(roles)})"
        reference = repo.get_conversation_ref(channel_id) if repo is not None else None
        if reference is None:
            report.bad(
                f"{label}: Teams has not told the bot about this channel yet: add the app to the team (in Teams: "
                "Apps > Manage your apps > Upload an app, then Add to a team), or @mention the bot in the channel once"
            )
        else:
            report.ok(f"{label}: the bot knows how to post there (since {str(reference['updated_at'])[:10]})")


async def _teams_token(settings: TeamsSettings, factory: Any, report: Report) -> None:
    """A Bot Framework token, the way botbuilder gets one for its connector calls (public cloud)."""
    factory = factory or ConfigurationServiceClientCredentialFactory(
        SimpleNamespace(
            APP_ID=settings.app_id,
            APP_PASSWORD=settings.app_password,
            APP_TYPE=settings.app_type,
            APP_TENANTID=settings.tenant_id,
        )
    )
    try:
        credentials = await factory.create_credentials(
            settings.app_id,
            AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE,
            AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX,
            True,
        )
        await asyncio.wait_for(_off_the_loop(credentials.get_access_token), CALL_SECONDS)
    except PermissionError as err:  # how botframework reports Microsoft Entra refusing the credentials (via MSAL)
        found = OAUTH_ERROR.search(str(err))
        codes = " ".join(filter(None, (found.group(1) if found else None, *AADSTS.findall(str(err))[:1])))
        report.bad(
            f"Teams: Microsoft Entra refused the bot's credentials ({codes or 'refused'}): check MicrosoftAppId, "
            "MicrosoftAppPassword (a client secret's Value, not its ID, and not expired) and MicrosoftAppTenantId",
            config=True,
        )
    except ValueError:  # MSAL: no such tenant (its authority cannot be found)
        report.bad(
            f"Teams: MicrosoftAppTenantId: Microsoft Entra does not know the tenant {settings.tenant_id!r}: copy the "
            "Directory (tenant) ID from the Azure Bot's app registration",
            config=True,
        )
    except Exception as err:  # the network, a proxy, a timeout: worth trying again
        report.bad(
            f"Teams: cannot reach Microsoft Entra ({type(err).__name__}): check the network, a proxy or a firewall"
        )
    else:
        report.ok(f"Teams: a Bot Framework token was issued to MicrosoftAppId {settings.app_id} ({settings.app_type})")


async def _off_the_loop(work: Callable[[], T]) -> T:
    """``work()`` in a daemon thread (MSAL's blocking calls have no timeout of their own, and a thread of the default
    executor would hold up the exit until it ends); the caller bounds the wait."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if not future.done():
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result, error = work(), None
        except BaseException as err:  # handed to the awaiting coroutine
            result, error = None, err
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits for this any more
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="engagebot-check", daemon=True).start()
    return await future


# -- schedule -----------------------------------------------------------------------------------------------------


def _schedule(settings: Settings, report: Report, now: datetime) -> None:
    tz = settings.timezone
    prompt_at = _when(next_slot(settings.prompt_cron, now, tz), tz)
    summary_at = _when(next_slot(settings.summary_cron, now, tz), tz)
    if settings.channels:
        report.ok(f"next prompt: {prompt_at}, to {plural(len(settings.channels), 'channel')}")
    else:
        report.bad(
            f"next prompt: none: no [[channels]] in {settings.config_path}: add the channels prompts go to",
            config=True,
        )
    if settings.summary_channels:
        report.ok(f"next summary: {summary_at}, to {plural(len(settings.summary_channels), 'channel')}")
    else:
        report.ok("next summary: none posted (no [[summary_channels]]); admins ask for it with /engage summary")


def _when(moment: datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b %Y %H:%M} ({tz.key})"
