"""Opening the engagement service on its database: library loaded and checked, schema migrated, prompts synced."""

from __future__ import annotations

from bot.config import Settings
from bot.errors import ConfigError
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


def open_engagement(settings: Settings, database: str | None = None) -> Engagement:
    """The Engagement service on an open, migrated Repository (close it with ``engagement.store.close()``)."""
    library = load_library(settings.prompt_library)
    check_channel_themes(settings, library)
    repo = Repository.open(database or settings.database)
    try:
        repo.sync_prompts(library)
    except BaseException:
        repo.close()
        raise
    return Engagement(settings, library, repo)
