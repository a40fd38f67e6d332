"""Configuration: the TOML file, the environment and `.env`, read once and checked before anything starts."""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from dotenv import dotenv_values

from bot.errors import ConfigError
from bot.events import Platform, parse_member_id

DEFAULT_CONFIG = "engagebot.toml"
DEFAULT_DB = "data/engagement.db"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
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
        "quote_emoji",
        "privacy_url",
    }
)
SCHEDULE_KEYS = frozenset({"prompts", "summary"})


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    platform: Platform
    id: str
    themes: tuple[str, ...] = ()  # empty: every theme


@dataclass(frozen=True, slots=True)
class SlackSettings:
    bot_token: str
    signing_secret: str
    app_token: str
    api_url: str


@dataclass(frozen=True, slots=True)
class TeamsSettings:
    app_id: str
    app_password: str
    app_type: str
    tenant_id: str

    @property
    def auth_enabled(self) -> bool:
        return bool(self.app_id)


@dataclass(frozen=True, slots=True)
class Settings:
    config_path: str = DEFAULT_CONFIG
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
    quote_emoji: str = "speech_balloon"
    privacy_url: str = ""
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
    merged = _environment(env, cwd)
    config_name = merged.get("ENGAGEBOT_CONFIG") or DEFAULT_CONFIG
    config_path = _resolve(config_name, cwd)
    data: dict[str, Any] = {}
    if config_path.exists() or merged.get("ENGAGEBOT_CONFIG"):
        data = _read_toml(config_path)
    return _build(data, merged, str(config_path), cwd)


def _environment(env: Mapping[str, str] | None, cwd: Path) -> dict[str, str]:
    """The process environment wins over `.env`, which only fills what is unset."""
    real = dict(os.environ if env is None else env)
    dotenv = cwd / ".env"
    if dotenv.is_file():
        for key, value in dotenv_values(dotenv).items():
            if value is not None and key not in real:
                real[key] = value
    return real


def _resolve(name: str, cwd: Path) -> Path:
    path = Path(name).expanduser()
    return path if path.is_absolute() else cwd / path


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError("file not found", source=str(path)) from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"not valid TOML ({err})", source=str(path)) from None
    except OSError as err:
        raise ConfigError(f"cannot be read ({err.strerror})", source=str(path)) from None


def _build(data: dict[str, Any], env: Mapping[str, str], source: str, cwd: Path) -> Settings:
    def fail(key: str, reason: str) -> ConfigError:
        return ConfigError(reason, source=source, key=key)

    unknown = sorted(set(data) - TOP_LEVEL_KEYS)
    if unknown:
        raise fail(unknown[0], f"unknown key (known keys: {', '.join(sorted(TOP_LEVEL_KEYS))})")

    tz_name = _string(data, "timezone", "Europe/London", fail)
    try:
        ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise fail("timezone", f"unknown timezone {tz_name!r} (use an IANA name such as Europe/London)") from None

    database = env.get("ENGAGEBOT_DB") or _string(data, "database", DEFAULT_DB, fail)
    library_value = _string(data, "prompt_library", "", fail)
    library = _resolve(library_value, Path(source).parent) if library_value else DEFAULT_PROMPT_LIBRARY
    if not library.is_file():
        raise fail("prompt_library", f"prompt library {str(library)!r} not found")

    schedule = data.get("schedule", {})
    if not isinstance(schedule, dict):
        raise fail("schedule", "must be a table ([schedule])")
    extra = sorted(set(schedule) - SCHEDULE_KEYS)
    if extra:
        raise fail(f"schedule.{extra[0]}", "unknown key (known keys: prompts, summary)")
    prompt_cron = _cron(schedule, "prompts", DEFAULT_PROMPT_CRON, fail)
    summary_cron = _cron(schedule, "summary", DEFAULT_SUMMARY_CRON, fail)

    admins = set(_string_list(data, "admins", fail))
    env_admins = [a.strip() for a in env.get("ENGAGEBOT_ADMINS", "").split(",") if a.strip()]
    for index, admin in enumerate([*admins, *env_admins]):
        try:
            parse_member_id(admin)
        except ValueError as err:
            key = "admins" if admin in admins else "ENGAGEBOT_ADMINS"
            raise fail(key, str(err)) if key == "admins" else ConfigError(str(err), key=key) from None
        del index
    admins.update(env_admins)

    return Settings(
        config_path=source,
        timezone_name=tz_name,
        database=str(_resolve(database, cwd)) if database != ":memory:" else database,
        admins=frozenset(admins),
        prompt_library=library,
        prompt_cron=prompt_cron,
        summary_cron=summary_cron,
        channels=_channels(data, "channels", fail, with_themes=True),
        summary_channels=_channels(data, "summary_channels", fail, with_themes=False),
        reconcile_days=_int(data, "reconcile_days", 7, fail, minimum=0),
        consent=_choice(data, "consent", "opt-out", ("opt-out", "opt-in"), fail),
        retention_days=_int(data, "retention_days", 730, fail, minimum=1),
        min_group_size=_int(data, "min_group_size", 3, fail, minimum=1),
        quote_emoji=_string(data, "quote_emoji", "speech_balloon", fail),
        privacy_url=_string(data, "privacy_url", "", fail),
        slack=_slack(env),
        teams=_teams(env),
        host=env.get("HOST") or "127.0.0.1",
        port=_port(env),
        log_level=_log_level(env),
    )


Fail = Any  # a callable (key, reason) -> ConfigError


def _string(data: Mapping[str, Any], key: str, default: str, fail: Fail) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or (key in data and not value.strip()):
        raise fail(key, "must be a non-empty string")
    return value.strip()


def _string_list(data: Mapping[str, Any], key: str, fail: Fail) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise fail(key, "must be a list of non-empty strings")
    return [item.strip() for item in value]


def _int(data: Mapping[str, Any], key: str, default: int, fail: Fail, *, minimum: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise fail(key, f"must be a whole number of at least {minimum}")
    return value


def _choice(data: Mapping[str, Any], key: str, default: str, choices: tuple[str, ...], fail: Fail) -> str:
    value = data.get(key, default)
    if value not in choices:
        raise fail(key, f"must be one of {', '.join(repr(c) for c in choices)}")
    return str(value)


def _cron(schedule: Mapping[str, Any], key: str, default: str, fail: Fail) -> str:
    value = schedule.get(key, default)
    if not isinstance(value, str) or len(value.split()) != 5 or not croniter.is_valid(value):
        raise fail(f"schedule.{key}", f"{value!r} is not a cron expression of five fields (e.g. {default!r})")
    return value


def _channels(data: Mapping[str, Any], key: str, fail: Fail, *, with_themes: bool) -> tuple[ChannelConfig, ...]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise fail(key, f"must be an array of tables ([[{key}]])")
    channels: list[ChannelConfig] = []
    allowed = {"platform", "id", "themes"} if with_themes else {"platform", "id"}
    for index, entry in enumerate(value):
        where = f"{key}[{index}]"
        if not isinstance(entry, dict):
            raise fail(where, "must be a table with platform and id")
        extra = sorted(set(entry) - allowed)
        if extra:
            raise fail(f"{where}.{extra[0]}", f"unknown key (known keys: {', '.join(sorted(allowed))})")
        platform = entry.get("platform")
        if platform not in {p.value for p in Platform}:
            raise fail(f"{where}.platform", f"unknown platform {platform!r} (use 'slack' or 'teams')")
        channel_id = entry.get("id")
        if not isinstance(channel_id, str) or not channel_id.strip():
            raise fail(f"{where}.id", "must be a non-empty channel id string")
        themes = tuple(_string_list(entry, "themes", lambda k, r, w=where: fail(f"{w}.{k}", r)))
        if (Platform(platform), channel_id.strip()) in {(c.platform, c.id) for c in channels}:
            raise fail(where, f"channel {platform}:{channel_id} is listed twice")
        channels.append(ChannelConfig(Platform(platform), channel_id.strip(), themes))
    return tuple(channels)


def _slack(env: Mapping[str, str]) -> SlackSettings | None:
    token = env.get("SLACK_BOT_TOKEN", "").strip()
    secret = env.get("SLACK_SIGNING_SECRET", "").strip()
    app_token = env.get("SLACK_APP_TOKEN", "").strip()
    api_url = env.get("SLACK_API_URL", "").strip() or DEFAULT_SLACK_API_URL
    if not token:
        if secret or app_token:
            raise ConfigError("is not set, but SLACK_SIGNING_SECRET or SLACK_APP_TOKEN is", key="SLACK_BOT_TOKEN")
        return None
    if app_token and not app_token.startswith("xapp-"):
        raise ConfigError("must be an app-level token starting with 'xapp-'", key="SLACK_APP_TOKEN")
    if not secret and not app_token:
        raise ConfigError(
            "is not set: Slack needs it to verify requests (or set SLACK_APP_TOKEN for Socket Mode)",
            key="SLACK_SIGNING_SECRET",
        )
    if not api_url.startswith(("http://", "https://")):
        raise ConfigError(f"{api_url!r} is not an http(s) URL", key="SLACK_API_URL")
    return SlackSettings(token, secret, app_token, api_url if api_url.endswith("/") else api_url + "/")


def _teams(env: Mapping[str, str]) -> TeamsSettings:
    app_id = env.get("MicrosoftAppId", "").strip()
    password = env.get("MicrosoftAppPassword", "").strip()
    app_type = env.get("MicrosoftAppType", "").strip() or "MultiTenant"
    tenant = env.get("MicrosoftAppTenantId", "").strip()
    known = {"multitenant": "MultiTenant", "singletenant": "SingleTenant", "userassignedmsi": "UserAssignedMSI"}
    if app_type.lower() not in known:
        raise ConfigError(f"unknown app type {app_type!r} (use {', '.join(known.values())})", key="MicrosoftAppType")
    app_type = known[app_type.lower()]
    if app_id and app_type != "UserAssignedMSI" and not password:
        raise ConfigError("is not set, but MicrosoftAppId is", key="MicrosoftAppPassword")
    if app_id and app_type != "MultiTenant" and not tenant:
        raise ConfigError(f"is required when MicrosoftAppType is {app_type}", key="MicrosoftAppTenantId")
    return TeamsSettings(app_id, password, app_type, tenant)


def _port(env: Mapping[str, str]) -> int:
    raw = env.get("PORT", "").strip() or "3978"
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigError(f"{raw!r} is not a TCP port (1-65535)", key="PORT")
    return int(raw)


def _log_level(env: Mapping[str, str]) -> str:
    level = (env.get("LOG_LEVEL", "").strip() or "INFO").upper()
    if not isinstance(logging.getLevelName(level), int):
        raise ConfigError(f"unknown log level {level!r} (use DEBUG, INFO, WARNING or ERROR)", key="LOG_LEVEL")
    return level
