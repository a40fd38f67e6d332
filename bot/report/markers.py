"""Counting replies that raise a barrier, describe what works or ask for something, from editable word lists.

The lists ship in ``markers.toml`` (its header says how to edit it). This is phrase matching, not sentiment
scoring: general sentiment models misread professional complaints ("we finally got the new linac") as positive.
The same file lists the "+1" replies that endorse another reply instead of saying something new.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from bot.report.text import clean

_SYMBOLS = re.compile(r"[^\w\s+%']")
_SPACES = re.compile(r"\s+")
_EMOJI_CODE = re.compile(r":[a-z0-9_+\-]+:", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Marker:
    name: str  # the table name in markers.toml: barrier, works, ask
    label: str  # "raise a barrier"
    pattern: re.Pattern[str]

    def found_in(self, cleaned: str) -> bool:
        return self.pattern.search(cleaned) is not None


@dataclass(frozen=True, slots=True)
class Markers:
    markers: tuple[Marker, ...]
    endorsements: frozenset[str]
    longest: int = field(init=False)  # the longest endorsement: anything much longer says more than "+1"

    def __post_init__(self) -> None:
        object.__setattr__(self, "longest", max(map(len, self.endorsements), default=0))

    def classify(self, text: str) -> tuple[str, ...]:
        """The names of the markers ``text`` carries, in file order."""
        return self.classify_cleaned(clean(text))

    def classify_cleaned(self, cleaned: str) -> tuple[str, ...]:
        """:meth:`classify` for text already passed through ``bot.report.text.clean``."""
        return tuple(m.name for m in self.markers if m.found_in(cleaned))

    def is_endorsement(self, text: str) -> bool:
        """True for a reply that only backs another: "+1", "Agree!", "same here 👍", or emoji alone."""
        if len(text) > self.longest + 40 or not text.strip():  # a long reply says more than "+1"
            return False
        bare = _SPACES.sub(" ", _SYMBOLS.sub(" ", _EMOJI_CODE.sub(" ", text.lower().replace("’", "'")))).strip()
        return bare in self.endorsements or not bare


def _trie(words: Iterable[str]) -> str:
    """One regular expression for a set of literal strings, factored by common prefixes: at any place in the
    text at most one branch is tried, so a long phrase list costs about as much as a short one."""
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + build(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 and "" not in node else "(?:" + "|".join(branches) + ")"
        return body + "?" if "" in node else body

    return build(root)


def _pattern(phrases: Iterable[str]) -> re.Pattern[str]:
    cleaned = {p.strip().lower() for p in phrases if p.strip()}
    exact = sorted(p for p in cleaned if not p.endswith("*"))
    prefixes = sorted(p[:-1] for p in cleaned if p.endswith("*") and len(p) > 1)
    parts = []
    if exact:
        parts.append(_trie(exact) + r"(?![a-z0-9])")
    if prefixes:
        parts.append(_trie(prefixes) + r"[a-z0-9'\-]*")
    if not parts:
        return re.compile(r"(?!x)x")  # matches nothing
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(parts) + ")")


def parse_markers(text: str) -> Markers:
    """Markers from the TOML text of a markers file; ValueError with the reason for a malformed one."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"markers file: {err}") from None
    markers = []
    for name, table in data.items():
        if name == "endorsement":
            continue
        if not isinstance(table, dict) or not isinstance(table.get("phrases"), list):
            raise ValueError(f"markers file: [{name}] needs a list of phrases")
        phrases = [str(p) for p in table["phrases"]]
        markers.append(Marker(name, str(table.get("label", name)), _pattern(phrases)))
    endorsements = data.get("endorsement", {}).get("phrases", [])
    bare = (_SPACES.sub(" ", _SYMBOLS.sub(" ", str(p).lower())).strip() for p in endorsements)
    return Markers(tuple(markers), frozenset(p for p in bare if p))


@cache
def shipped_markers() -> Markers:
    return parse_markers(resources.files("bot.report").joinpath("markers.toml").read_text(encoding="utf-8"))
