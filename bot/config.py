"""Configuration: the TOML file, the environment and `.env` files, read once and checked before anything starts.

A value is taken from the first of these that has it:

1. the process environment;
2. the `.env` file next to the configuration file;
3. the `.env` file in the working directory.

`ENGAGEBOT_CONFIG`, which says where the configuration file is, comes from the environment or the working
directory's `.env` only.
"""

from __future__ import annotations

import io
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

from bot import config_values as values
from bot.config_env import SlackSettings, TeamsSettings, log_level, port, slack_settings, teams_settings
from bot.config_values import ChannelConfig, Fail
from bot.errors import ConfigError
from bot.events import Platform, parse_member_id

DEFAULT_CONFIG = "engagebot.toml"
EXAMPLE_CONFIG = "engagebot.example.toml"
DEFAULT_DB = "data/engagement.db"
DEFAULT_PROMPT_LIBRARY = Path(__file__).with_name("prompt_library.toml")
DEFAULT_PROMPT_CRON = "0 10 * * TUE"
DEFAULT_SUMMARY_CRON = "0 9 * * MON"

TOP_LEVEL_KEYS = frozenset(
    {
        "timezone",
        "database",
        "admins",
        "prompt_library",
        "schedule",
        "channels",
        "summary_channels",
        "reconcile_days",
        "consent",
        "retention_days",
        "min_group_size",
        "report_min_members",
        "quote_emoji",
        "privacy_url",
        "public_url",
        "dashboard",
    }
)
SCHEDULE_KEYS = frozenset({"prompts", "summary"})

__all__ = ["ChannelConfig", "Settings", "SlackSettings", "TeamsSettings", "load_settings"]


@dataclass(frozen=True, slots=True)
class Settings:
    config_path: str = DEFAULT_CONFIG
    config_found: bool = True  # False: no configuration file, every TOML key has its default
    timezone_name: str = "Europe/London"
    database: str = DEFAULT_DB
    admins: frozenset[str] = frozenset()
    prompt_library: Path = DEFAULT_PROMPT_LIBRARY
    prompt_cron: str = DEFAULT_PROMPT_CRON
    summary_cron: str = DEFAULT_SUMMARY_CRON
    channels: tuple[ChannelConfig, ...] = ()
    summary_channels: tuple[ChannelConfig, ...] = ()
    reconcile_days: int = 7
    consent: str = "opt-out"
    retention_days: int = 730
    min_group_size: int = 3
    report_min_members: int = 10
    quote_emoji: str = "speech_balloon"
    privacy_url: str = ""
    public_url: str = ""  # the base address of the links the bot sends (the dashboard's sign-in links), no slash
    dashboard: bool = False  # the /dashboard/ routes are mounted
    slack: SlackSettings | None = None
    teams: TeamsSettings = field(default_factory=lambda: TeamsSettings("", "", "MultiTenant", ""))
    host: str = "127.0.0.1"
    port: int = 3978
    log_level: str = "INFO"

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone_name)

    def is_admin(self, member: str) -> bool:
        return member in self.admins


def load_settings(env: Mapping[str, str] | None = None, *, cwd: Path | None = None) -> Settings:
    """Read the configuration; every problem is a ConfigError naming the file, the key and the reason."""
    cwd = cwd or Path.cwd()
    real = dict(os.environ if env is None else env)
    local = _dotenv(cwd / ".env")
    named = real.get("ENGAGEBOT_CONFIG") or local.get("ENGAGEBOT_CONFIG")
    config_path = _resolve(named or DEFAULT_CONFIG, cwd)
    merged = dict(local)
    beside = config_path.parent / ".env"
    if beside.resolve() != (cwd / ".env").resolve():
        merged.update({k: v for k, v in _dotenv(beside).items() if k != "ENGAGEBOT_CONFIG"})
    merged.update(real)
    found = config_path.exists()
    data = _read_toml(config_path) if found or named else {}
    return _build(data, merged, str(config_path), cwd, found=found)


def _dotenv(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    parsed = dotenv_values(stream=io.StringIO(values.read_text(path)))
    return {key: value for key, value in parsed.items() if value is not None}


def _resolve(name: str, cwd: Path) -> Path:
    path = Path(name).expanduser()
    return path if path.is_absolute() else cwd / path


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(values.read_text(path))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"not valid TOML ({err})", source=str(path)) from None


def _build(data: dict[str, Any], env: Mapping[str, str], source: str, cwd: Path, *, found: bool) -> Settings:
    def fail(key: str, reason: str) -> ConfigError:
        return ConfigError(reason, source=source, key=key)

    unknown = sorted(set(data) - TOP_LEVEL_KEYS)
    if unknown:
        raise fail(unknown[0], f"unknown key (known keys: {', '.join(sorted(TOP_LEVEL_KEYS))})")

    tz_name = values.string(data, "timezone", "Europe/London", fail)
    try:
        ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise fail("timezone", f"unknown timezone {tz_name!r} (use an IANA name such as Europe/London)") from None

    database = env.get("ENGAGEBOT_DB") or values.string(data, "database", DEFAULT_DB, fail)
    library_value = values.string(data, "prompt_library", "", fail)
    library = _resolve(library_value, Path(source).parent) if library_value else DEFAULT_PROMPT_LIBRARY
    if not library.is_file():
        raise fail("prompt_library", f"prompt library {str(library)!r} not found")

    schedule = data.get("schedule", {})
    if not isinstance(schedule, dict):
        raise fail("schedule", "must be a table ([schedule])")
    extra = sorted(set(schedule) - SCHEDULE_KEYS)
    if extra:
        raise fail(f"schedule.{extra[0]}", "unknown key (known keys: prompts, summary)")

    admins = set(values.string_list(data, "admins", fail))
    for admin in admins:
        try:
            parse_member_id(admin)
        except ValueError as err:
            raise fail("admins", str(err)) from None
    for admin in (a.strip() for a in env.get("ENGAGEBOT_ADMINS", "").split(",")):
        if admin:
            try:
                parse_member_id(admin)
            except ValueError as err:
                raise ConfigError(str(err), key="ENGAGEBOT_ADMINS") from None
            admins.add(admin)

    quote_emoji = values.string(data, "quote_emoji", "speech_balloon", fail)
    if problem := values.emoji_problem(quote_emoji):
        raise fail("quote_emoji", problem)
    privacy_url = values.string(data, "privacy_url", "", fail)
    if privacy_url and (problem := values.https_problem(privacy_url)):
        raise fail("privacy_url", problem)

    public_url, dashboard = _dashboard(data, fail)

    channels = values.channels(data, "channels", fail, with_themes=True)
    summary_channels = values.channels(data, "summary_channels", fail, with_themes=False)
    host = env.get("HOST") or "127.0.0.1"
    slack, teams = slack_settings(env), teams_settings(env, host)
    _check_credentials({"channels": channels, "summary_channels": summary_channels}, slack, teams, fail)

    return Settings(
        config_path=source,
        config_found=found,
        timezone_name=tz_name,
        database=str(_resolve(database, cwd)) if database != ":memory:" else database,
        admins=frozenset(admins),
        prompt_library=library,
        prompt_cron=values.cron(schedule, "prompts", DEFAULT_PROMPT_CRON, fail),
        summary_cron=values.cron(schedule, "summary", DEFAULT_SUMMARY_CRON, fail),
        channels=channels,
        summary_channels=summary_channels,
        reconcile_days=values.integer(data, "reconcile_days", 7, fail, minimum=0),
        consent=values.choice(data, "consent", "opt-out", ("opt-out", "opt-in"), fail),
        retention_days=values.integer(data, "retention_days", 730, fail, minimum=1),
        min_group_size=values.integer(data, "min_group_size", 3, fail, minimum=1),
        report_min_members=values.integer(data, "report_min_members", 10, fail, minimum=1),
        quote_emoji=quote_emoji,
        privacy_url=privacy_url,
        public_url=public_url,
        dashboard=dashboard,
        slack=slack,
        teams=teams,
        host=host,
        port=port(env),
        log_level=log_level(env),
    )


def _dashboard(data: dict[str, Any], fail: Fail) -> tuple[str, bool]:
    """``public_url`` (normalised) and whether the dashboard is on: by default exactly when ``public_url`` is set."""
    public_url = values.string(data, "public_url", "", fail)
    if public_url:
        public_url, problem = values.public_url(public_url)
        if problem:
            raise fail("public_url", problem)
    dashboard = values.switch(data, "dashboard", bool(public_url), fail)
    if dashboard and not public_url:
        raise fail(
            "dashboard",
            "is true, but public_url is not set: the dashboard's sign-in links need the https address engagebot "
            "is reached at (set public_url = 'https://…', or remove dashboard)",
        )
    return public_url, dashboard


def _check_credentials(
    listed: Mapping[str, tuple[ChannelConfig, ...]], slack: SlackSettings | None, teams: TeamsSettings, fail: Fail
) -> None:
    """A channel of a platform engagebot cannot reach would only fail at its first scheduled post: refuse it now."""
    for key, channels in listed.items():
        for index, channel in enumerate(channels):
            if channel.platform is Platform.SLACK and slack is None:
                raise fail(
                    f"{key}[{index}]",
                    "a Slack channel, but SLACK_BOT_TOKEN is not set: set it in the environment or in a .env file "
                    "next to this file (or remove the channel)",
                )
            if channel.platform is Platform.TEAMS and teams.mode is None:
                raise fail(
                    f"{key}[{index}]",
                    "a Teams channel, but MicrosoftAppId is not set: set the Azure Bot's credentials in the "
                    "environment or in a .env file next to this file (or ENGAGEBOT_TEAMS_EMULATOR=1 to test locally)",
                )
