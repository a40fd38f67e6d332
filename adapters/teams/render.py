"""Core ``Card``s and prompts as Adaptive Cards, in the message activities Teams shows."""

from __future__ import annotations

import re
from typing import Any

from botbuilder.core import CardFactory, MessageFactory
from botbuilder.schema import Activity

from bot.ports import Card
from bot.prompts import Prompt

__all__ = ["card_activity", "card_to_adaptive", "prompt_to_adaptive"]

_BACKTICKS = re.compile(r"`([^`]+)`")


def _teams_markdown(text: str) -> str:
    """Adaptive Card markdown has no inline code: show `x` as **x**."""
    return _BACKTICKS.sub(r"**\1**", text)


def _text_block(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": _teams_markdown(text), "wrap": True, **style}


def _lines(text: str, **style: Any) -> list[dict[str, Any]]:
    """One TextBlock per line: a single newline inside a TextBlock does not break the line in Teams."""
    blocks = [_text_block(line, spacing="None", **style) for line in text.splitlines() if line.strip()]
    if blocks:
        blocks[0].pop("spacing")
    return blocks


def _adaptive_card(body: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": body,
    }


def card_to_adaptive(card: Card) -> dict[str, Any]:
    """A core ``Card`` as an Adaptive Card: the title, a FactSet, then the sections."""
    body: list[dict[str, Any]] = [_text_block(card.title, weight="Bolder", size="Medium")]
    if card.facts:
        body.append({"type": "FactSet", "facts": [{"title": label, "value": value} for label, value in card.facts]})
    for heading, text in card.sections:
        if heading:
            body.append(_text_block(heading, weight="Bolder", spacing="Medium"))
        body.extend(_lines(text))
    if card.footer:
        body.extend(_lines(card.footer, isSubtle=True, size="Small"))
    return _adaptive_card(body)


def prompt_to_adaptive(prompt: Prompt, notice: str) -> dict[str, Any]:
    """A discussion prompt: the theme, the prompt, an invitation to reply in the thread, and the notice."""
    body = [
        _text_block(prompt.theme, weight="Bolder", color="Accent", size="Small"),
        _text_block(prompt.text, size="Large", weight="Bolder"),
        _text_block("Reply in this thread to share your view; reactions count too."),
    ]
    if notice:
        body.append(_text_block(notice, isSubtle=True, size="Small", spacing="Medium"))
    return _adaptive_card(body)


def card_activity(content: dict[str, Any], summary: str) -> Activity:
    activity = MessageFactory.attachment(CardFactory.adaptive_card(content))
    activity.summary = summary[:200]  # the notification preview
    return activity
