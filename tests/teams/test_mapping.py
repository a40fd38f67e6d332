"""The pure parts of the Teams adapter, without a server: a command's text, and cards."""

from __future__ import annotations

from adapters.teams.mapping import parse_activity
from adapters.teams.render import card_to_adaptive
from adapters.teams.text import command_text
from bot.ports import Card
from tests.fakes import teams_channel_mention


def test_command_text_strips_the_mention() -> None:
    activity = parse_activity(teams_channel_mention("  summary   2026-W48 ", service_url="http://127.0.0.1:1/"))
    assert command_text(activity) == "summary 2026-W48"
    assert activity.text.startswith("<at>")  # not mutated


def test_card_to_adaptive_turns_code_into_bold() -> None:
    content = card_to_adaptive(Card(title="t", sections=(("", "use `optout`"),)))
    assert content["body"][1]["text"] == "use **optout**"
