"""The pure parts of the Teams adapter, without a server: a command's text, cards, and dedupe keys."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.teams.mapping import parse_activity, reactions_from_teams
from adapters.teams.render import card_to_adaptive
from adapters.teams.text import command_text
from bot.ports import Card
from tests.fakes import TEAMS_CHANNEL_ID, teams_channel_mention, teams_message_reaction

AT = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def test_command_text_strips_the_mention() -> None:
    activity = parse_activity(teams_channel_mention("  summary   2026-W48 ", service_url="http://127.0.0.1:1/"))
    assert command_text(activity) == "summary 2026-W48"
    assert activity.text.startswith("<at>")  # not mutated


def test_card_to_adaptive_turns_code_into_bold() -> None:
    content = card_to_adaptive(Card(title="t", sections=(("", "use `optout`"),)))
    assert content["body"][1]["text"] == "use **optout**"


def test_a_reaction_without_an_activity_id_is_keyed_by_a_hash_of_its_delivery() -> None:
    def keys(**changes: object) -> list[str | None]:
        payload = teams_message_reaction("like", reply_to_id="1900000000001", service_url="http://127.0.0.1:1/",
                                         user_id="29:1member-in-clear", timestamp=AT)  # fmt: skip
        del payload["id"]
        payload.update(changes)
        return [event.event_key for event in reactions_from_teams(parse_activity(payload))]

    (key,) = keys()
    assert key is not None
    assert "member-in-clear" not in key
    assert key.startswith(f"teams:reaction:{TEAMS_CHANNEL_ID}:sha256-")
    assert key.endswith(":added:like")
    assert keys() == [key]  # a redelivery of the same activity is the same delivery
    assert keys(timestamp="2026-11-24T10:00:01.000Z") != [key]  # the member reacting again is another one
    assert keys(replyToId="1900000000002") != [key]
    with_id = teams_message_reaction("like", reply_to_id="1900000000001", service_url="http://127.0.0.1:1/")
    assert reactions_from_teams(parse_activity(with_id))[0].event_key == (
        f"teams:reaction:{TEAMS_CHANNEL_ID}:{with_id['id']}:added:like"
    )
