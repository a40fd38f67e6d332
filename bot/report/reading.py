"""Reading replies: each distinct text of a theme is read once, whatever number of replies carry it.

A reading says whether the text only endorses another reply ("+1"), and otherwise gives its cleaned text, its
phrase material, the markers it carries (barrier, works, ask) and its 1-3 word phrases. Replies repeat more than
one would think ("Agreed.", "Same here", the same sentence pasted from a shared document), and the quotes, the
markers and the phrases all read the same text: reading it once is most of the report's text work. A ``Readings``
lives for one theme, so its memory is that of one theme's distinct texts.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.report.markers import Markers
from bot.report.text import Gram, clean, content, grams


@dataclass(frozen=True, slots=True)
class Reading:
    endorsement: bool  # only backs another reply: no text of its own to analyse
    cleaned: str = ""  # bot.report.text.clean
    material: str = ""  # bot.report.text.content of the cleaned text
    marks: tuple[str, ...] = ()  # the markers it carries, in the markers file's order
    grams: frozenset[Gram] = frozenset()  # its 1-3 word phrases


ENDORSEMENT = Reading(endorsement=True)


class Readings:
    """The readings of one theme's texts, each made once."""

    def __init__(self, markers: Markers) -> None:
        self.markers = markers
        self._made: dict[str, Reading] = {}

    def __call__(self, text: str) -> Reading:
        reading = self._made.get(text)
        if reading is None:
            reading = self._made[text] = self._read(text)
        return reading

    def _read(self, text: str) -> Reading:
        if self.markers.is_endorsement(text):
            return ENDORSEMENT
        cleaned = clean(text)
        material = content(cleaned)
        return Reading(False, cleaned, material, self.markers.classify_cleaned(cleaned), frozenset(grams(material)))
