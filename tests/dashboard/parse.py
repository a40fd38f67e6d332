"""Dashboard pages read back with the standard library's HTML parser: tiles, tables, quotes, links, forms, and
every tag with its attributes (to check what a page could fetch or run)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Page(HTMLParser):
    tags: list[tuple[str, dict[str, str | None]]] = field(default_factory=list)
    tiles: dict[str, str] = field(default_factory=dict)  # label -> figure text
    splits: list[str] = field(default_factory=list)
    tables: list[list[list[str]]] = field(default_factory=list)  # each table: its rows (header row first), cell texts
    quotes: list[str] = field(default_factory=list)
    phrases: list[tuple[str, str | None]] = field(default_factory=list)  # (the item's text, its link)
    links: list[str] = field(default_factory=list)
    _open: list[tuple[str, dict[str, str | None], list[str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "a" and attributes.get("href"):
            self.links.append(str(attributes["href"]))
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        if tag not in ("input", "meta", "link", "br", "rect", "line"):
            self._open.append((tag, attributes, []))

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            name, attrs, parts = self._open.pop()
            text = "".join(parts)
            if self._open:
                self._open[-1][2].append(text)
            self._closed(name, attrs, text.strip())
            if name == tag:
                break

    def _closed(self, name: str, attrs: dict[str, str | None], text: str) -> None:
        css = attrs.get("class") or ""
        parent = self._open[-1] if self._open else None
        if name in ("td", "th") and self.tables and self.tables[-1]:
            self.tables[-1][-1].append(text)
        elif name == "blockquote":
            self.quotes.append(text)
        elif name == "div" and css.startswith("figure") and parent and parent[1].get("class") == "tile":
            label = next(t for t in self._tile_label(parent))
            self.tiles[label] = text
        elif name == "div" and css == "split":
            self.splits.append(text)
        elif name == "li" and parent and parent[1].get("class") == "phrases":
            link = next((str(a.get("href")) for t, a in reversed(self.tags) if t == "a"), None)
            self.phrases.append((text, link if link and "/dashboard/phrase?" in link else None))

    @staticmethod
    def _tile_label(tile: tuple[str, dict[str, str | None], list[str]]) -> list[str]:
        return [tile[2][0]]  # the tile's first child is its label

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1][2].append(data)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page
