"""Counts in words: the noun agrees with its number in every message that counts."""

from __future__ import annotations

import pytest

from bot.wording import agreeing, noun, plural


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
        (2, "match", "2 matches"),  # -es after s, x, z, ch or sh
        (3, "box", "3 boxes"),
    ],
)
def test_the_noun_agrees_with_its_number(n: int, singular: str, expected: str) -> None:
    assert plural(n, singular) == expected


def test_an_irregular_plural_is_given() -> None:
    assert (plural(1, "person", "people"), plural(4, "person", "people")) == ("1 person", "4 people")


@pytest.mark.parametrize(
    ("n", "shown", "expected"),
    [
        (1, "1", "1 reply"),
        (1.0, "1", "1 reply"),  # a count that arrives as a float agrees the same
        (1234, "1,234", "1,234 replies"),
        (1001, "1,001", "1,001 replies"),  # printed with a 1 at its end, still many
        (0, "0", "0 replies"),
        (None, "fewer than 3", "fewer than 3 replies"),  # a figure withheld: the plural
        (None, "withheld", "withheld replies"),
    ],
)
def test_the_number_is_printed_as_shown_and_the_noun_agrees_with_the_count(
    n: float | None, shown: str, expected: str
) -> None:
    assert plural(n, "reply", shown=shown) == expected


def test_the_noun_alone_follows_the_same_rules() -> None:
    assert [noun(1, "reply"), noun(2, "reply"), noun(None, "reply"), noun(5, "person", "people")] == [
        "reply",
        "replies",
        "replies",
        "people",
    ]


@pytest.mark.parametrize(
    ("n", "phrase", "expected"),
    [
        (1, "raise a barrier", "raises a barrier"),
        (1, "describe what works", "describes what works"),
        (1, "ask for something", "asks for something"),
        (1, "carry weight", "carries weight"),
        (1, "push for change", "pushes for change"),
        (1, "are about pay", "is about pay"),
        (1, "should change", "should change"),  # a modal verb takes no -s
        (2, "raise a barrier", "raise a barrier"),
        (0, "raise a barrier", "raise a barrier"),
        (None, "raise a barrier", "raise a barrier"),  # "fewer than 3 replies raise a barrier"
    ],
)
def test_a_verb_phrase_agrees_with_its_count(n: float | None, phrase: str, expected: str) -> None:
    assert agreeing(n, phrase) == expected
