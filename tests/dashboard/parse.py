"""Dashboard pages read back with the report tests' HTML parser, which also collects: headline tiles, tables (cell
texts by row), links, and each phrase with the address it links to."""

from __future__ import annotations

from tests.report_community import Page as ReportPage
from tests.report_community import parse_as


class Page(ReportPage):
    def __init__(self) -> None:
        super().__init__()
        self.tiles: dict[str, str] = {}  # label -> figure text
        self.splits: list[str] = []
        self.tables: list[list[list[str]]] = []  # each table: its rows (header row first), cell texts
        self.links: list[str] = []
        self.linked_phrases: list[tuple[str, str | None]] = []  # (the item's text, its link)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        super().handle_starttag(tag, attrs)
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.links.append(href)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])

    def closed(self, name: str, attrs: dict[str, str | None], text: str) -> None:
        super().closed(name, attrs, text)
        css = attrs.get("class") or ""
        parent = self._open[-1] if self._open else None
        if name in ("td", "th") and self.tables and self.tables[-1]:
            self.tables[-1][-1].append(text.strip())
        elif name == "div" and css.startswith("figure") and parent and parent[1].get("class") == "tile":
            self.tiles[parent[2][0]] = text  # a tile's first child is its label
        elif name == "div" and css == "split":
            self.splits.append(text)
        elif name == "li" and parent and parent[1].get("class") == "phrases":
            link = next((str(a.get("href")) for t, a in reversed(self.tags) if t == "a"), None)
            self.linked_phrases.append((text, link if link and "/dashboard/phrase?" in link else None))


def parse(html: str) -> Page:
    return parse_as(html, Page)
