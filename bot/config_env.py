"""Settings from environment variables (the process environment merged with `.env` files by bot.config)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from bot.config_values import is_guid, is_loopback
from bot.errors import ConfigError

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
TEAMS_APP_TYPES = {"multitenant": "MultiTenant", "singletenant": "SingleTenant", "userassignedmsi": "UserAssignedMSI"}


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
    app_type: str  # the type that applies: without an app id, MultiTenant (botbuilder's no-credentials mode)
    tenant_id: str
    emulator: bool = False  # ENGAGEBOT_TEAMS_EMULATOR=1: Teams without credentials, for local use only

    @property
    def auth_enabled(self) -> bool:
        return bool(self.app_id)

    @property
    def mode(self) -> str | None:
        """ "authenticated" (MicrosoftAppId set), "emulator" (ENGAGEBOT_TEAMS_EMULATOR=1) or None: Teams is off."""
        if self.app_id:
            return "authenticated"
        return "emulator" if self.emulator else None


def slack_settings(env: Mapping[str, str]) -> SlackSettings | None:
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


def teams_settings(env: Mapping[str, str], host: str = "127.0.0.1") -> TeamsSettings:
    app_id = env.get("MicrosoftAppId", "").strip()
    password = env.get("MicrosoftAppPassword", "").strip()
    given_type = env.get("MicrosoftAppType", "").strip()
    tenant = env.get("MicrosoftAppTenantId", "").strip()
    emulator = _flag(env, "ENGAGEBOT_TEAMS_EMULATOR")
    if given_type and given_type.lower() not in TEAMS_APP_TYPES:
        known = ", ".join(TEAMS_APP_TYPES.values())
        raise ConfigError(f"unknown app type {given_type!r} (use {known})", key="MicrosoftAppType")
    if emulator and not is_loopback(host):
        raise ConfigError(
            f"is set, but HOST {host!r} is not a loopback address: emulator mode checks no tokens, so it only "
            "listens on 127.0.0.1 (or set MicrosoftAppId instead)",
            key="ENGAGEBOT_TEAMS_EMULATOR",
        )
    if not app_id:
        # The app type and tenant apply only to an app id; passing SingleTenant on would make botbuilder refuse.
        return TeamsSettings("", "", "MultiTenant", "", emulator=emulator)
    if not is_guid(app_id):
        raise ConfigError(
            f"{app_id!r} is not a GUID: copy the Azure Bot's Microsoft App ID (its Configuration page)",
            key="MicrosoftAppId",
        )
    if emulator:
        raise ConfigError(
            "is set together with MicrosoftAppId: emulator mode runs Teams without credentials; unset one of them",
            key="ENGAGEBOT_TEAMS_EMULATOR",
        )
    app_type = TEAMS_APP_TYPES[given_type.lower()] if given_type else "SingleTenant"
    if app_type != "UserAssignedMSI" and not password:
        raise ConfigError("is not set, but MicrosoftAppId is", key="MicrosoftAppPassword")
    if app_type != "MultiTenant" and not tenant:
        reason = f"is required when MicrosoftAppType is {app_type}"
        if not given_type:
            reason += (
                " (the default: Azure creates new bots as single-tenant): set your Microsoft Entra tenant id, "
                "or MicrosoftAppType=MultiTenant for a bot registered as multi-tenant"
            )
        raise ConfigError(reason, key="MicrosoftAppTenantId")
    return TeamsSettings(app_id, password, app_type, tenant)


def _flag(env: Mapping[str, str], key: str) -> bool:
    raw = env.get(key, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{raw!r} is not a switch: set it to 1 (on) or 0 (off)", key=key)


def port(env: Mapping[str, str]) -> int:
    raw = env.get("PORT", "").strip() or "3978"
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigError(f"{raw!r} is not a TCP port (1-65535)", key="PORT")
    return int(raw)


def log_level(env: Mapping[str, str]) -> str:
    level = (env.get("LOG_LEVEL", "").strip() or "INFO").upper()
    if not isinstance(logging.getLevelName(level), int):
        raise ConfigError(f"unknown log level {level!r} (use DEBUG, INFO, WARNING or ERROR)", key="LOG_LEVEL")
    return level
