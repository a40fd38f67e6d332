"""The prompt library (themes and their prompts) and the rotation that picks what to post next."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.config_values import read_text
from bot.errors import ConfigError, UsageError


@dataclass(frozen=True, slots=True)
class Prompt:
    theme: str
    text: str


@dataclass(frozen=True, slots=True)
class Theme:
    name: str
    description: str
    prompts: tuple[Prompt, ...]


@dataclass(frozen=True, slots=True)
class PostedPrompt:
    """One earlier post in a channel, as the rotation needs it."""

    theme: str
    text: str
    posted_at: datetime


@dataclass(frozen=True, slots=True)
class Library:
    themes: tuple[Theme, ...]

    @property
    def prompts(self) -> tuple[Prompt, ...]:
        return tuple(p for theme in self.themes for p in theme.prompts)

    def theme_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.themes)

    def find_theme(self, name: str) -> Theme:
        """Case-insensitive theme lookup; a clear UsageError lists the themes when there is no match."""
        wanted = name.strip().casefold()
        for theme in self.themes:
            if theme.name.casefold() == wanted:
                return theme
        matches = [t for t in self.themes if t.name.casefold().startswith(wanted)] if wanted else []
        if len(matches) == 1:
            return matches[0]
        raise UsageError(f"unknown theme {name!r}; themes are: {'; '.join(self.theme_names())}")


def load_library(path: Path) -> Library:
    """Read a prompt library TOML file; problems are ConfigErrors naming the file and the key."""
    source = str(path)
    try:
        data = tomllib.loads(read_text(path, key="prompt_library"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"not valid TOML ({err})", source=source) from None
    return library_from_dict(data, source=source)


def library_from_dict(data: dict[str, Any], *, source: str = "") -> Library:
    raw_themes = data.get("themes")
    if not isinstance(raw_themes, list) or not raw_themes:
        raise ConfigError("must be a non-empty array of tables ([[themes]])", source=source, key="themes")
    themes: list[Theme] = []
    seen_names: set[str] = set()
    for index, raw in enumerate(raw_themes):
        where = f"themes[{index}]"
        if not isinstance(raw, dict):
            raise ConfigError("must be a table", source=source, key=where)
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("must be a non-empty string", source=source, key=f"{where}.name")
        name = name.strip()
        if name.casefold() in seen_names:
            raise ConfigError(f"theme {name!r} appears twice", source=source, key=f"{where}.name")
        seen_names.add(name.casefold())
        description = raw.get("description", "")
        if not isinstance(description, str):
            raise ConfigError("must be a string", source=source, key=f"{where}.description")
        texts = raw.get("prompts")
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t.strip() for t in texts):
            raise ConfigError("must be a non-empty list of strings", source=source, key=f"{where}.prompts")
        unique = list(dict.fromkeys(t.strip() for t in texts))
        if len(unique) != len(texts):
            raise ConfigError("lists the same prompt twice", source=source, key=f"{where}.prompts")
        themes.append(Theme(name, description.strip(), tuple(Prompt(name, t) for t in unique)))
    return Library(tuple(themes))


def next_prompt(
    library: Library,
    history: Sequence[PostedPrompt],
    *,
    allowed_themes: Sequence[str] = (),
    theme: str | None = None,
) -> Prompt:
    """Pick the next prompt for one channel, given that channel's post history.

    Themes take turns in library order, starting after the theme of the channel's latest post.
    Within a theme, prompts never posted in the channel come first (in library order), then the
    one posted least recently, so no prompt repeats while unposted ones remain.
    """
    candidates = [t for t in library.themes if not allowed_themes or t.name in allowed_themes]
    if not candidates:
        raise UsageError("this channel is limited to themes that are not in the prompt library")
    if theme is not None:
        chosen = library.find_theme(theme)
        if chosen not in candidates:
            raise UsageError(f"theme {chosen.name!r} is not enabled for this channel")
    else:
        chosen = _next_theme(candidates, history)
    last_posted: dict[str, datetime] = {}
    for item in history:
        if item.theme == chosen.name and (item.text not in last_posted or item.posted_at > last_posted[item.text]):
            last_posted[item.text] = item.posted_at
    order = {p.text: i for i, p in enumerate(chosen.prompts)}
    return min(
        chosen.prompts, key=lambda p: (p.text in last_posted, last_posted.get(p.text, datetime.min), order[p.text])
    )


def _next_theme(candidates: Sequence[Theme], history: Sequence[PostedPrompt]) -> Theme:
    if not history:
        return candidates[0]
    latest = max(history, key=lambda item: item.posted_at)
    names = [t.name for t in candidates]
    if latest.theme not in names:
        return candidates[0]
    return candidates[(names.index(latest.theme) + 1) % len(candidates)]
