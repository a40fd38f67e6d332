"""The Slack adapter (being split into one module per concern; these names move with it)."""

from adapters.slack.adapter import (
    MalformedPayload,
    SlackAdapter,
    SlackPoster,
    card_blocks,
    card_text,
    deletion_from_slack,
    edit_from_slack,
    event_from_slack,
    reaction_from_slack,
    reply_from_slack,
)

__all__ = [
    "MalformedPayload",
    "SlackAdapter",
    "SlackPoster",
    "card_blocks",
    "card_text",
    "deletion_from_slack",
    "edit_from_slack",
    "event_from_slack",
    "reaction_from_slack",
    "reply_from_slack",
]
