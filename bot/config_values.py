"""Reading and checking single configuration values: text files, typed TOML values, cron expressions, channel ids.

Each ``*_problem`` check returns the reason a value is wrong, phrased with its fix (``None`` when it is fine); the
readers raise one ConfigError naming the file and the key through the ``fail`` callable they are given.
"""

from __future__ import annotations

import codecs
import ipaddress
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from croniter import CroniterBadDateError, croniter

from bot.errors import ConfigError
from bot.events import Platform

Fail = Callable[[str, str], ConfigError]  # (key, reason) -> the error naming the file and the key

# (name, lowest, highest) of the five cron fields, in order
CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day-of-month", 1, 31), ("month", 1, 12), ("day-of-week", 0, 7))
SLACK_CHANNEL = re.compile(r"[CG][A-Z0-9]+")
TEAMS_CHANNEL = re.compile(r"19:[^\s/?#%]+@thread\.(?:tacv2|skype)")
_SLACK_LINK_ID = re.compile(r"/(?:archives|messages)/([A-Za-z][A-Za-z0-9]+)")
_TEAMS_LINK_ID = re.compile(r"/l/channel/([^/?#]+)")


# -- text files ---------------------------------------------------------------------------------------------------


def read_text(path: Path, *, key: str = "") -> str:
    """A configuration file's text: UTF-8, with or without a byte-order mark; anything else is a ConfigError."""
    source = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("file not found", source=source, key=key) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a file", source=source, key=key) from None
    except OSError as err:
        raise ConfigError(f"cannot be read ({err.strerror})", source=source, key=key) from None
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ConfigError("is saved as UTF-16: save it as UTF-8", source=source, key=key)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ConfigError(
            f"is not UTF-8 text (byte 0x{data[err.start]:02x} on line {line}; perhaps saved as Windows-1252 or "
            "Latin-1): save it as UTF-8",
            source=source,
            key=key,
        ) from None


# -- cron -----------------------------------------------------------------------------------------------------------


def cron_problem(expression: str, example: str) -> str | None:
    """Why ``expression`` is not a usable five-field cron expression, or None."""
    fields = expression.split()
    if len(fields) != 5:
        return (
            f"{expression!r} has {len(fields)} fields; a cron expression has five: "
            f"minute hour day-of-month month day-of-week (e.g. {example!r})"
        )
    for text, (name, low, high) in zip(fields, CRON_FIELDS, strict=True):
        for number in _cron_numbers(text):
            if not low <= number <= high:
                return f"{expression!r}: {name} {number} is out of range {low}-{high}"
    if not croniter.is_valid(expression):
        return f"{expression!r} is not a cron expression (minute hour day-of-month month day-of-week, e.g. {example!r})"
    try:
        croniter(expression, datetime(2000, 1, 1)).get_next(datetime)
    except CroniterBadDateError:
        return f"{expression!r} never fires: day-of-month {fields[2]} never falls in month {fields[3]}"
    return None


def _cron_numbers(field: str) -> list[int]:
    """The plain numbers written in one field (list items, range ends; not steps); names and symbols are skipped."""
    return [int(end) for item in field.split(",") for end in item.partition("/")[0].split("-") if end.isdigit()]


# -- channel ids ---------------------------------------------------------------------------------------------------


def slack_channel_problem(value: str) -> str | None:
    """Why ``value`` is not a Slack channel id (``C`` or ``G`` then upper-case letters and digits), or None."""
    if SLACK_CHANNEL.fullmatch(value):
        return None
    where = "(in Slack: click the channel's name; the id is at the bottom of About)"
    if "://" in value or value.startswith("slack.com"):
        found = _SLACK_LINK_ID.search(value)
        if found and SLACK_CHANNEL.fullmatch(found.group(1).upper()):
            return f"{value!r} is a link, not a channel id: write {found.group(1).upper()!r}"
        return f"{value!r} is a link, not a channel id: write the channel id (C… or G…) {where}"
    if SLACK_CHANNEL.fullmatch(value.upper()) and any(ch.isdigit() for ch in value):  # ids have digits; names may not
        return f"{value!r}: Slack channel ids are upper case: write {value.upper()!r}"
    if value.startswith("#"):
        return f"{value!r} is a channel name, not its id: write the channel id (C… or G…) {where}"
    return f"{value!r} is not a Slack channel id: write the id (C… or G… and upper-case letters and digits) {where}"


def teams_channel_id(value: str) -> tuple[str, str | None]:
    """``value`` as a Teams channel id (a whole "Get link to channel" URL is decoded), and why it is wrong or None."""
    if TEAMS_CHANNEL.fullmatch(value):
        return value, None
    where = "(in Teams: the channel's ⋯ > Get link to channel; paste the whole link)"
    if value.startswith(("https://", "http://")):
        found = _TEAMS_LINK_ID.search(urlsplit(value).path)
        decoded = unquote(found.group(1)) if found else ""
        if TEAMS_CHANNEL.fullmatch(decoded):
            return decoded, None
        return value, f"{value!r} is a link, but not to a Teams channel: write the channel id 19:…@thread.tacv2 {where}"
    decoded = unquote(value)
    if decoded != value and TEAMS_CHANNEL.fullmatch(decoded):
        return value, f"{value!r} is URL-encoded: write {decoded!r}"
    return value, f"{value!r} is not a Teams channel id: write the id 19:…@thread.tacv2 {where}"


# -- other values ------------------------------------------------------------------------------------------------------


def is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def https_problem(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        return f"{value!r} is not an https:// address: write the full link, e.g. 'https://example.org/privacy'"
    return None


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1): reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def public_url(value: str) -> tuple[str, str | None]:
    """``public_url`` without a trailing slash, and why it is wrong (or None). It is the base address of the links the
    bot sends: https, with no path, query or user; plain http only on this machine (a loopback host), for testing."""
    example = "write the base address only, e.g. 'https://engagebot.example.org'"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return value, f"{value!r} is not a web address: {example}"
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        return value, f"{value!r} is not an https:// address: {example}"
    if parts.scheme == "http" and not is_loopback(host):
        return value, (
            f"{value!r} is http: the sign-in links must be https (TLS at your reverse proxy); "
            "plain http is allowed only for a loopback host (127.0.0.1, localhost) when testing on this machine"
        )
    if parts.username or parts.password or parts.query or parts.fragment or parts.path not in ("", "/"):
        return value, f"{value!r} has more than a base address: {example} (the dashboard lives at /dashboard/ there)"
    return f"{parts.scheme}://{parts.netloc}", None


def emoji_problem(value: str) -> str | None:
    name = value.strip(":")
    if name != value:
        return f"{value!r}: write the emoji name without colons: {name!r}"
    if any(ch.isspace() for ch in value):
        return f"{value!r} is not an emoji name: write it as Slack shows it between colons, e.g. 'speech_balloon'"
    return None


# -- typed values of a TOML table -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    platform: Platform
    id: str
    themes: tuple[str, ...] = ()  # empty: every theme


def string(data: Mapping[str, Any], key: str, default: str, fail: Fail) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or (key in data and not value.strip()):
        raise fail(key, "must be a non-empty string")
    return value.strip()


def string_list(data: Mapping[str, Any], key: str, fail: Fail) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise fail(key, "must be a list of non-empty strings")
    return [item.strip() for item in value]


def integer(data: Mapping[str, Any], key: str, default: int, fail: Fail, *, minimum: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise fail(key, f"must be a whole number of at least {minimum}")
    return value


def switch(data: Mapping[str, Any], key: str, default: bool, fail: Fail) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise fail(key, "must be true or false (without quotes)")
    return value


def choice(data: Mapping[str, Any], key: str, default: str, choices: tuple[str, ...], fail: Fail) -> str:
    value = data.get(key, default)
    if value not in choices:
        raise fail(key, f"must be one of {', '.join(repr(c) for c in choices)}")
    return str(value)


def cron(schedule: Mapping[str, Any], key: str, default: str, fail: Fail) -> str:
    value = schedule.get(key, default)
    if not isinstance(value, str):
        raise fail(f"schedule.{key}", f"must be a cron expression in quotes (e.g. {default!r})")
    problem = cron_problem(value.strip(), default)
    if problem:
        raise fail(f"schedule.{key}", problem)
    return value.strip()


def channels(data: Mapping[str, Any], key: str, fail: Fail, *, with_themes: bool) -> tuple[ChannelConfig, ...]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise fail(key, f"must be an array of tables ([[{key}]])")
    found: list[ChannelConfig] = []
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
        channel_id, problem = channel_id_of(Platform(platform), channel_id.strip())
        if problem:
            raise fail(f"{where}.id", problem)
        themes = tuple(string_list(entry, "themes", _within(where, fail)))
        if (Platform(platform), channel_id) in {(c.platform, c.id) for c in found}:
            raise fail(where, f"channel {platform}:{channel_id} is listed twice")
        found.append(ChannelConfig(Platform(platform), channel_id, themes))
    return tuple(found)


def channel_id_of(platform: Platform, value: str) -> tuple[str, str | None]:
    """The channel id ``value`` stands for on ``platform``, and why it is wrong (or None)."""
    if platform is Platform.SLACK:
        return value, slack_channel_problem(value)
    return teams_channel_id(value)


def _within(table: str, fail: Fail) -> Fail:
    """``fail`` for the keys of one table of an array (``channels[0].themes``)."""

    def fail_within(key: str, reason: str) -> ConfigError:
        return fail(f"{table}.{key}", reason)

    return fail_within
