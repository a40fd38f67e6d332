"""The text of Teams messages: @mentions of the bot, the HTML body, and a command's words. Pure functions."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from botbuilder.schema import Activity

__all__ = ["command_text", "html_text", "mentions_bot", "message_text"]


def mentions_bot(activity: Activity) -> bool:
    bot_id = getattr(activity.recipient, "id", None)
    return any(bot_id and entity_id == bot_id for entity_id, _ in _mentions(activity))


def _mentions(activity: Activity) -> list[tuple[str, str]]:
    """(mentioned id, mention text) of each well-formed mention entity."""
    found = []
    for entity in activity.entities or []:
        if getattr(entity, "type", None) != "mention":
            continue
        extra = getattr(entity, "additional_properties", None) or {}
        mentioned = extra.get("mentioned")
        text = extra.get("text")
        if isinstance(mentioned, dict) and isinstance(mentioned.get("id"), str):
            found.append((mentioned["id"], text if isinstance(text, str) else ""))
    return found


def _bot_mention_texts(activity: Activity) -> list[str]:
    bot_id = getattr(activity.recipient, "id", None)
    return [mention for entity_id, mention in _mentions(activity) if entity_id == bot_id and mention]


class _HtmlText(HTMLParser):
    """The text of a Teams HTML message body: tags dropped, block ends as line breaks, @mentions as ``<at>…</at>``
    (as in the plain ``text``), so the bot's mention is removed the same way."""

    BLOCKS = frozenset({"p", "div", "li", "tr", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6"})
    SKIPPED = frozenset({"script", "style"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self._skipping += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "at":
            self.parts.append("<at>")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag == "at":
            self.parts.append("</at>")
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return _tidy("".join(parser.parts))


def _tidy(text: str) -> str:
    if "\n" not in text and "\t" not in text and "\xa0" not in text and "  " not in text:
        return text.strip()  # one line without runs of blanks (most replies): nothing else to tidy
    lines = [re.sub(r"[ \t\xa0]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _html_attachment(activity: Activity) -> str:
    for attachment in activity.attachments or []:
        content = getattr(attachment, "content", None)
        if getattr(attachment, "content_type", None) == "text/html" and isinstance(content, str):
            return content
    return ""


def message_text(activity: Activity) -> str:
    """What a member wrote: ``text``, or when that is empty the text of the message's HTML attachment (an edit may
    carry its new content only there), without the bot's @mention."""
    text = activity.text if isinstance(activity.text, str) else ""
    if not text.strip():
        text = html_text(_html_attachment(activity))
    mentions = _bot_mention_texts(activity)
    name = getattr(activity.recipient, "name", None)
    if not mentions and isinstance(name, str) and name:  # an update may come without its mention entities
        mentions = [f"<at>{name}</at>"]
    for mention in mentions:
        text = text.replace(mention, " ")
    return _tidy(text)


def command_text(activity: Activity) -> str:
    """The message text without the bot's @mention. (``remove_recipient_mention`` mutates the activity, leaves a
    leading space and raises on malformed entities, so it is done here.)"""
    text = activity.text if isinstance(activity.text, str) else ""
    for mention in _bot_mention_texts(activity):
        text = text.replace(mention, " ")
    text = re.sub(r"<at>[^<]*</at>", " ", text) if "<at>" in text else text
    return " ".join(text.split())
