"""Core ``Card``s and prompts as Block Kit, with the plain-text fallback Slack shows in notifications."""

from __future__ import annotations

from typing import Any

from bot.ports import Card
from bot.prompts import Prompt

__all__ = ["card_blocks", "card_text", "clip", "prompt_blocks"]

MAX_FIELDS = 10  # Block Kit: a section holds at most 10 fields
MAX_BLOCKS = 50


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def card_text(card: Card) -> str:
    """The notification / screen-reader fallback of a card."""
    parts = [card.title]
    parts += [f"{label}: {value}" for label, value in card.facts]
    parts += [f"{heading}\n{body}" if heading else body for heading, body in card.sections]
    if card.footer:
        parts.append(card.footer)
    return clip("\n".join(parts), 3000)


def card_blocks(card: Card) -> list[dict[str, Any]]:
    """A card as Block Kit: a header, the facts as section fields, one section per paragraph, a context footer."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(card.title, 150), "emoji": True}}
    ]
    facts = list(card.facts)
    for start in range(0, len(facts), MAX_FIELDS):
        fields = [
            {"type": "mrkdwn", "text": clip(f"*{label}*\n{value}", 2000)}
            for label, value in facts[start : start + MAX_FIELDS]
        ]
        blocks.append({"type": "section", "fields": fields})
    for heading, body in card.sections:
        text = f"*{heading}*\n{body}" if heading else body
        if text.strip():
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": clip(text, 3000)}})
    if card.footer:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": clip(card.footer, 2000)}]})
    return blocks[:MAX_BLOCKS]


def prompt_blocks(prompt: Prompt, notice: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": clip(f"*Discussion prompt · {prompt.theme}*", 2000)}],
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": clip(prompt.text, 3000)}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": clip(f":speech_balloon: Reply in this thread to share your view. {notice}", 2000),
                }
            ],
        },
    ]
