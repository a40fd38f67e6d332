"""The weekly summary as a card: exact for the admin who asks, protected when it is posted to a channel.

Every figure the card prints is a disclosure cell (``bot.disclosure``) with the people behind it, and every sum
a reader could use to work a hidden figure out is declared: the totals are the sums of the platforms (members
belong to one platform) and of the themes; a theme is the sum of its prompts; participants are new plus
returning; a change is this week minus last week (whose figures are never printed); the reactions are the sum
of the reaction names. In a channel (``k`` = ``min_group_size``), a figure about 1 to k-1 people reads "fewer
than k people", and a figure that would give one of those away by adding or subtracting reads "withheld".
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from bot.disclosure import Cell, Number, Protection, Relation, change_relation, protect
from bot.model import ActivityGroup, WeekTotals
from bot.ports import Card
from bot.summary import People, Summary

TOP_THEMES, TOP_PROMPTS, TOP_REACTIONS = 5, 3, 5
MEASURES = ("replies", "reactions", "participants")


def key(*parts: object) -> str:
    return "|".join(str(p) for p in parts)


def summary_cells(
    summary: Summary, crowd: People, reactors_by_name: Counter[str]
) -> tuple[dict[str, Cell], list[Relation]]:
    """The cells of every figure a summary card prints (and of the ones a reader could combine them with)."""
    t, before = summary.totals, summary.previous
    cells: dict[str, Cell] = {
        "posts": Cell(t.posts, 0),
        "replies": Cell(t.replies, crowd.repliers),
        "reactions": Cell(t.reactions, crowd.reactors),
        "participants": Cell(t.participants, t.participants),
        "new": Cell(summary.new_participants, summary.new_participants),
        "returning": Cell(summary.returning_participants, summary.returning_participants),
        "median": Cell(summary.median_minutes_to_first_reply or 0, _first_repliers(summary, crowd)),
    }
    relations = [Relation("participants", ("new", "returning"))]
    for name, value, people_before in _previous(before):
        cells[key("previous", name)] = Cell(value, people_before, published=False)
        cells[key("change", name)] = Cell(cells[name].value - value, min(cells[name].people, people_before))
        relations.append(change_relation(name, key("previous", name), key("change", name)))
    for platform, figures in summary.by_platform.items():
        repliers, reactors = crowd.by_platform.get(platform, (0, 0))
        cells[key(platform.value, "posts")] = Cell(figures.posts, 0)
        cells[key(platform.value, "replies")] = Cell(figures.replies, repliers)
        cells[key(platform.value, "reactions")] = Cell(figures.reactions, reactors)
        cells[key(platform.value, "participants")] = Cell(figures.participants, figures.participants)
    for measure in ("posts", *MEASURES):  # member ids carry their platform: the platforms partition everything
        relations.append(Relation(measure, tuple(key(p.value, measure) for p in summary.by_platform)))
    shown_themes = {theme for theme, _ in summary.by_theme[:TOP_THEMES]}
    for theme, figures in summary.by_theme:
        repliers, reactors = crowd.by_theme.get(theme, (0, 0))
        published = theme in shown_themes
        cells[key("theme", theme, "replies")] = Cell(figures.replies, repliers, published)
        cells[key("theme", theme, "reactions")] = Cell(figures.reactions, reactors, published)
        cells[key("theme", theme, "participants")] = Cell(figures.participants, figures.participants, published)
    shown_posts = {item.post.id for item in summary.by_post[:TOP_PROMPTS]}
    for item in summary.by_post:
        repliers, reactors = crowd.by_post.get(item.post.id, (0, 0))
        published = item.post.id in shown_posts
        cells[key("post", item.post.id, "replies")] = Cell(item.figures.replies, repliers, published)
        cells[key("post", item.post.id, "reactions")] = Cell(item.figures.reactions, reactors, published)
        cells[key("post", item.post.id, "participants")] = Cell(
            item.figures.participants, item.figures.participants, published
        )
    for measure in ("replies", "reactions"):
        themes = [theme for theme, _ in summary.by_theme]
        relations.append(Relation(measure, tuple(key("theme", theme, measure) for theme in themes)))
        for theme in themes:
            posts = [item.post.id for item in summary.by_post if item.post.theme == theme]
            relations.append(Relation(key("theme", theme, measure), tuple(key("post", p, measure) for p in posts)))
        for platform in summary.by_platform:
            posts = [item.post.id for item in summary.by_post if item.post.platform is platform]
            relations.append(Relation(key(platform.value, measure), tuple(key("post", p, measure) for p in posts)))
    listed = summary.top_reactions[:TOP_REACTIONS]
    for name, count in summary.top_reactions:
        cells[key("reaction", name)] = Cell(count, reactors_by_name[name], (name, count) in listed)
    others = t.reactions - sum(count for _, count in summary.top_reactions)  # names past the top ten
    cells[key("reaction", "")] = Cell(others, crowd.reactors if others else 0, published=False)
    names = [key("reaction", name) for name, _ in summary.top_reactions]
    relations.append(Relation("reactions", (*names, key("reaction", ""))))
    return cells, relations


def _previous(before: WeekTotals) -> list[tuple[str, int, int]]:
    return [
        ("posts", before.posts, 0),
        ("replies", before.replies, before.repliers),
        ("reactions", before.reactions, before.reactors),
        ("participants", before.participants, before.participants),
    ]


def _first_repliers(summary: Summary, crowd: People) -> int:
    """At most how many people the median time to first reply describes: one first reply per post made in the
    week that got a reply, and never more than the week's repliers."""
    answered = sum(1 for item in summary.by_post if item.figures.posts and item.figures.replies)
    return min(answered, crowd.repliers)


def reactors_by_name(groups: Iterable[ActivityGroup]) -> Counter[str]:
    """How many distinct members used each reaction name."""
    named: defaultdict[str, set[str]] = defaultdict(set)
    for _, name, members in groups:
        if name is not None:
            named[name].update(members)
    return Counter({name: len(members) for name, members in named.items()})


def protect_summary(summary: Summary, groups: Iterable[ActivityGroup], k: int) -> Protection:
    """The summary's figures protected for ``k`` (``k <= 1``: exact), from the week's activity."""
    cells, relations = summary_cells(summary, summary.people, reactors_by_name(groups))
    return protect(cells, relations, k)


def render_card(summary: Summary, shown: Protection, quotes: dict[str, list[str]]) -> Card:
    """The card: facts, then by platform, top themes, most discussed prompts, top reactions and quotes."""

    def figure(name: str) -> str:
        if name in shown.primary:
            return f"fewer than {shown.k} people"
        if name in shown.complementary:
            return "withheld"
        return _number(shown.cells[name].value)

    def with_change(name: str) -> str:
        change = key("change", name)
        if shown.hidden(change):
            return f"{figure(name)} (change withheld)"
        delta = shown.cells[change].value
        return f"{figure(name)} ({'+' if delta > 0 else ''}{_number(delta) if delta else '±0'})"

    def part(name: str, label: str) -> str:
        """``12 replies``, or ``replies: withheld`` / ``replies: fewer than 3 people``."""
        return f"{label}: {figure(name)}" if shown.hidden(name) else f"{figure(name)} {label}"

    def activity(prefix: tuple[object, ...]) -> str:
        if key(*prefix, "participants") in shown.primary:  # replies and reactions are about fewer still
            return f"activity from fewer than {shown.k} people"
        return ", ".join(part(key(*prefix, m), m) for m in MEASURES)

    median = summary.median_minutes_to_first_reply
    facts = [("Posts", with_change("posts"))]
    if "participants" in shown.primary:  # the whole week is about a few people: one line says so
        facts.append(("Activity", f"replies and reactions from fewer than {shown.k} people"))
    else:
        facts += [
            ("Replies", with_change("replies")),
            ("Reactions", with_change("reactions")),
            (
                "Participants",
                f"{with_change('participants')}; {part('new', 'new')}, {part('returning', 'returning')}",
            ),
        ]
    facts.append(("Median to first reply", "none" if median is None else _minutes(figure("median"))))
    platform_lines = [
        f"• {platform.value}: {part(key(platform.value, 'posts'), 'posts')}, {activity((platform.value,))}"
        for platform, figures in summary.by_platform.items()
        if figures.posts or figures.participants
    ]
    sections: list[tuple[str, str]] = [("By platform", "\n".join(platform_lines))]
    if summary.by_theme:
        themes = [f"• {theme}: {activity(('theme', theme))}" for theme, _ in summary.by_theme[:TOP_THEMES]]
        sections.append(("Top themes", "\n".join(themes)))
    if summary.by_post:
        prompts = [
            f"• {_clip(item.post.prompt, 120)} ({activity(('post', item.post.id))})"
            for item in summary.by_post[:TOP_PROMPTS]
        ]
        sections.append(("Most discussed prompts", "\n".join(prompts)))
    reactions = [
        f"{name} {figure(key('reaction', name))}"
        for name, _ in summary.top_reactions[:TOP_REACTIONS]
        if not shown.hidden(key("reaction", name))
    ]
    if reactions:
        sections.append(("Top reactions", ", ".join(reactions)))
    for theme, texts in quotes.items():
        sections.append((f"In members' words: {theme}", "\n".join(f"> {_clip(t, 280)}" for t in texts)))
    start = summary.start.strftime("%d %b %Y")
    return Card(
        title=f"Engagement summary {summary.week} (week of {start})",
        facts=tuple(facts),
        sections=tuple((h, b) for h, b in sections if b),
    )


def _number(value: Number) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _minutes(text: str) -> str:
    return text if text in ("withheld",) or text.startswith("fewer") else f"{text} min"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
