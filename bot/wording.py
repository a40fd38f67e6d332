"""Counts in words, the noun agreeing with its number ("1 reply", "2 replies"), for every message that counts."""

from __future__ import annotations

from collections.abc import Mapping, Sized

# What a member's data holds, counted in the messages about it (mydata, optout, engagebot forget): the keys of
# ``member_data``'s dict, in the order they are told.
HELD_KEYS = ("replies", "reactions", "dashboard_links", "dashboard_sessions")

_VOWELS = ("", "a", "e", "i", "o", "u")
_SIBILANTS = ("s", "x", "z", "ch", "sh")
# Verbs that do not take the regular -s with one subject ("1 reply is", "1 reply should"); the rest do.
_SINGULAR_VERBS = {"are": "is", "have": "has", "were": "was", "do": "does", "go": "goes"}
_MODALS = frozenset({"can", "could", "may", "might", "must", "shall", "should", "will", "would"})


def _regular_s(word: str) -> str:
    """The regular -s form of a word, a noun's plural or a verb's third person singular: reply -> replies,
    day -> days, match -> matches, reaction -> reactions."""
    if word.endswith("y") and word[-2:-1] not in _VOWELS:
        return word[:-1] + "ies"
    if word.endswith(_SIBILANTS):
        return word + "es"
    return word + "s"


def noun(n: float | None, singular: str, plural: str | None = None) -> str:
    """The noun alone, agreeing with ``n`` (the rules of ``plural``): noun(1, "reply") is "reply"."""
    if n == 1:
        return singular
    return plural if plural is not None else _regular_s(singular)


def plural(n: float | None, singular: str, plural: str | None = None, *, shown: str | None = None) -> str:
    """``n`` and the noun that agrees with it: plural(1, "reply") is "1 reply", plural(0, "reply") "0 replies".

    The plural is regular unless given: -ies after a consonant and y (reply), -es after s, x, z, ch or sh (match),
    else -s (reaction, sign-in link). ``shown``: the number as printed, when not plainly ``n``: plural(1234,
    "reply", shown="1,234") is "1,234 replies". A figure printed as words instead of a number ("fewer than 3"),
    ``n`` None, takes the plural noun: "fewer than 3 replies"."""
    return f"{n if shown is None else shown} {noun(n, singular, plural)}"


def agreeing(n: float | None, verb_phrase: str) -> str:
    """A verb phrase written for several ("raise a barrier"), agreeing with ``n`` as its subject's number:
    "raises a barrier" for 1, unchanged otherwise (``n`` None: a figure printed as words, "fewer than 3")."""
    if n != 1 or not verb_phrase:
        return verb_phrase
    verb, space, rest = verb_phrase.partition(" ")
    if verb not in _MODALS:
        verb = _SINGULAR_VERBS.get(verb) or _regular_s(verb)
    return verb + space + rest


def data_held(replies: int, reactions: int, links: int, sessions: int, *, every_kind: bool = False) -> list[str]:
    """A member's data counted, a phrase per kind: replies and reactions always, an admin's dashboard sign-in links
    and sessions when there are any (or always, with ``every_kind``)."""
    parts = [plural(replies, "reply"), plural(reactions, "reaction")]
    if links or every_kind:
        parts.append(plural(links, "dashboard sign-in link"))
    if sessions or every_kind:
        parts.append(plural(sessions, "dashboard session"))
    return parts


def held_in(data: Mapping[str, Sized], *, every_kind: bool = False) -> list[str]:
    """:func:`data_held` of a member's data as ``member_data`` gives it (a list per kind)."""
    replies, reactions, links, sessions = (len(data[key]) for key in HELD_KEYS)
    return data_held(replies, reactions, links, sessions, every_kind=every_kind)
