"""Opening the engagement service on its database: library loaded and checked, schema migrated, prompts synced."""

from __future__ import annotations

from pathlib import Path

from bot.config import Settings
from bot.errors import ConfigError, StorageError
from bot.prompts import Library, load_library
from bot.service import Engagement
from storage.repository import Repository


def check_channel_themes(settings: Settings, library: Library) -> None:
    names = set(library.theme_names())
    for index, channel in enumerate(settings.channels):
        for theme in channel.themes:
            if theme not in names:
                raise ConfigError(
                    f"unknown theme {theme!r}; the prompt library has: {'; '.join(library.theme_names())}",
                    source=settings.config_path,
                    key=f"channels[{index}].themes",
                )


def open_engagement(settings: Settings, database: str | None = None, *, existing: bool = False) -> Engagement:
    """The Engagement service on an open, migrated Repository (close it with ``engagement.store.close()``).

    ``existing``: the database must already exist (commands that only read refuse to create an empty one).
    """
    library = load_library(settings.prompt_library)
    check_channel_themes(settings, library)
    path = database or settings.database
    if existing and path != ":memory:" and not Path(path).is_file():
        raise StorageError(
            f"no database at {path}: name the right one with --db PATH or ENGAGEBOT_DB "
            "(after the demo: --db data/demo.db)"
        )
    repo = Repository.open(path)
    try:
        repo.sync_prompts(library)
    except BaseException:
        repo.close()
        raise
    return Engagement(settings, library, repo)


def member_ids_like(engagement: Engagement, member: str) -> list[str]:
    """The member ids stored anywhere (members, opt-outs, consents, watermarks, erasures, replies, reactions, dashboard
    sign-ins) that equal ``member`` when case is ignored, ``member`` itself first if it is stored."""
    repo = engagement.store
    if not isinstance(repo, Repository):
        raise TypeError("member_ids_like needs the SQLite repository")
    tables = (
        "members",
        "optouts",
        "consents",
        "consent_withdrawals",
        "member_watermarks",
        "erasures",
        "replies",
        "reactions",
        "dashboard_tokens",
        "dashboard_sessions",
    )
    union = " UNION ".join(f"SELECT member_id FROM {table} WHERE member_id = :m COLLATE NOCASE" for table in tables)
    found = sorted(row[0] for row in repo._fetchall(union, {"m": member}))
    return sorted(found, key=lambda m: m != member)


def close_engagement(engagement: Engagement) -> None:
    close = getattr(engagement.store, "close", None)
    if close is not None:
        close()
