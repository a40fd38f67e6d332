"""Counts in words, the noun agreeing with its number ("1 reply", "2 replies"), for every message that counts."""

from __future__ import annotations


def plural(n: int, singular: str, plural: str | None = None) -> str:
    """``n`` and the noun that agrees with it: plural(1, "reply") is "1 reply", plural(0, "reply") "0 replies".

    The plural is regular unless given: -ies after a consonant and y (reply), else -s (reaction, sign-in link)."""
    if n == 1:
        return f"{n} {singular}"
    if plural is None:
        regular_ies = singular.endswith("y") and singular[-2:-1] not in ("", "a", "e", "i", "o", "u")
        plural = singular[:-1] + "ies" if regular_ies else singular + "s"
    return f"{n} {plural}"
