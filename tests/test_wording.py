"""Counts in words: the noun agrees with its number in every message that counts."""

from __future__ import annotations

import pytest

from bot.wording import plural


@pytest.mark.parametrize(
    ("n", "singular", "expected"),
    [
        (0, "reply", "0 replies"),
        (1, "reply", "1 reply"),
        (2, "reply", "2 replies"),
        (1, "reaction", "1 reaction"),
        (3, "reaction", "3 reactions"),
        (1, "dashboard sign-in link", "1 dashboard sign-in link"),
        (2, "dashboard session", "2 dashboard sessions"),
        (2, "day", "2 days"),  # a vowel before the y: -s
        (2, "Teams activity", "2 Teams activities"),
    ],
)
def test_the_noun_agrees_with_its_number(n: int, singular: str, expected: str) -> None:
    assert plural(n, singular) == expected


def test_an_irregular_plural_is_given() -> None:
    assert (plural(1, "person", "people"), plural(4, "person", "people")) == ("1 person", "4 people")
