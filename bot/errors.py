"""The exception tree of engagebot.

BotError
├── ConfigError      a configuration file or variable is wrong (exit code 2)
├── UsageError       a command-line or chat command argument is wrong (exit code 2)
├── AdapterError     a platform (Slack, Teams) refused or failed a call
│   ├── NoConversationReference   Teams has not told us where a channel is yet
│   ├── PostInDoubt               the platform may have accepted a post: never post it again blindly
│   └── PostUnverifiable          the platform cannot show whether a post exists
└── StorageError     the database cannot be opened or is not ours
"""

from __future__ import annotations


class BotError(Exception):
    """Base class of every error engagebot raises on purpose."""


class ConfigError(BotError):
    """A configuration value is missing or wrong; the message names the file, the key and the reason."""

    def __init__(self, reason: str, *, source: str = "", key: str = "") -> None:
        self.source = source
        self.key = key
        self.reason = reason
        where = ": ".join(part for part in (source, key) if part)
        super().__init__(f"{where}: {reason}" if where else reason)


class UsageError(BotError):
    """An argument given by a person is not valid."""


class AdapterError(BotError):
    """A platform call failed after its retries."""


class NoConversationReference(AdapterError):
    """Teams has not yet told the bot how to reach a channel (install the app in the team first)."""


class PostInDoubt(AdapterError):
    """A post failed after the platform may have received it (a timeout, a dropped connection, a 5xx): it may be
    in the channel. Posting it again could post it twice; only the platform can tell (see ``Poster.find_post``)."""


class PostUnverifiable(AdapterError):
    """The platform cannot show whether a post exists (the Bot Framework has no way to read a channel's messages)."""


class StorageError(BotError):
    """The database cannot be used."""
