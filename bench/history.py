"""The benchmarks' synthetic 2-year history: posts, replies (with text) and reactions on both platforms, written
with bulk SQL straight into a database migrated by the Repository, in exactly the storage format (UTC ISO text with
microseconds, `bot.timeutil.to_db`), and cached under the system temporary directory keyed by its parameters and the
schema, so reruns start at once. The summary and report benchmarks read it.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.common import (
    bench_dir,
)
from bot.config import DEFAULT_PROMPT_LIBRARY
from bot.demo import compose_reply, corpus
from bot.prompts import load_library
from bot.timeutil import IsoWeek, to_db
from storage.repository import Repository

TIMEZONE = "Europe/London"
FIRST_MONDAY = datetime(2024, 11, 25, tzinfo=UTC)  # ISO 2024-W48; 104 weeks run to 2026-W47
CHUNK = 100_000

SLACK_REACTIONS = ("+1", "heart", "tada", "eyes", "raised_hands", "clap", "100", "thinking_face", "joy", "fire")
SLACK_WEIGHTS = (30, 15, 10, 8, 8, 8, 6, 5, 5, 5)
TEAMS_REACTIONS = ("like", "heart", "laugh", "surprised", "sad", "angry")
TEAMS_WEIGHTS = (50, 20, 15, 8, 5, 2)
WORDS = (
    *("we", "tried", "this", "in", "our", "department", "and", "the", "main", "barrier", "was", "time", "funding"),
    *("training", "equipment", "staff", "patients", "data", "digital", "pathway", "community", "screening"),
    *("referral", "audit", "quality", "governance", "network", "support", "evidence"),
)


@dataclass(frozen=True)
class Params:
    weeks: int = 104
    posts: int = 20_000
    replies: int = 1_000_000
    reactions: int = 3_000_000
    members: int = 20_000
    channels: int = 24  # per platform
    seed: int = 6


FULL = Params()
QUICK = Params(weeks=12, posts=600, replies=30_000, reactions=90_000, members=2_000, channels=4)


# -- building the history ----------------------------------------------------------------------------------


def schema_fingerprint() -> str:
    """The SQL of a freshly migrated database: a new migration (an index, say) invalidates the cache."""
    repo = Repository.open(":memory:")
    try:
        rows = repo.db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()
    finally:
        repo.db.close()
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:12]


def cache_path(params: Params) -> Path:
    text = resources.files("bot").joinpath("demo_corpus.toml").read_text(encoding="utf-8")  # the replies' text
    key = hashlib.sha256((json.dumps(asdict(params), sort_keys=True) + text).encode()).hexdigest()[:12]
    return bench_dir() / f"summary-{key}-{schema_fingerprint()}.db"


def _slack_ts(seconds: int, micros: int) -> str:
    return f"{seconds}.{micros:06d}"


def _teams_id(seconds: int, micros: int) -> str:
    return f"{seconds}{micros:06d}"


def _stamp(seconds: int, micros: int) -> str:
    return to_db(datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros))


def _chunks(rows: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


def reply_texts(params: Params, size: int) -> dict[str, list[str]]:
    """Per theme, ``size`` replies as members write them (the demo's composer: an opener of a specialty, one or two
    points of the theme, sometimes a closer; some "+1"s), so the report's text analysis reads realistic text."""
    rng = random.Random(params.seed + 1)
    specialties = sorted(corpus().specialties)
    return {
        theme: [
            rng.choice(corpus().endorsements)
            if rng.random() < 0.1
            else compose_reply(rng, theme, rng.choice(specialties))
            for _ in range(size)
        ]
        for theme in sorted(corpus().themes)
    }


def build_history(path: Path, params: Params) -> dict[str, int]:
    """Write the synthetic history to ``path`` (replacing it); returns the row counts."""
    rng = random.Random(params.seed)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    partial = path.with_name(path.name + ".part")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    repo = Repository.open(partial)
    library = load_library(DEFAULT_PROMPT_LIBRARY)
    repo.sync_prompts(library)
    conn = repo.db.conn
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -262144")
    tables = ("posts", "replies", "reactions", "members")
    marks = ",".join("?" * len(tables))
    indexes = conn.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({marks})",
        tables,
    ).fetchall()
    for name, _sql in indexes:  # bulk load without secondary indexes, then build them once
        conn.execute(f"DROP INDEX {name}")

    def insert(sql: str, rows: Sequence[Any]) -> None:
        for chunk in _chunks(rows):
            with repo.transaction():
                conn.executemany(sql, chunk)

    start_seconds = int(FIRST_MONDAY.timestamp())
    # Channels and members, half on each platform.
    slack_channels = [f"C0{rng.getrandbits(40):010X}" for _ in range(params.channels)]
    teams_channels = [f"19:{rng.getrandbits(128):032x}@thread.tacv2" for _ in range(params.channels)]
    per_platform = params.members // 2
    slack_members = [f"slack:U0{rng.getrandbits(40):010X}" for _ in range(per_platform)]
    teams_members = [f"teams:29:1{rng.getrandbits(300):x}"[:52] for _ in range(per_platform)]
    member_rows = [
        (m, "slack", m.removeprefix("slack:"), f"Member {i}" if i % 4 else None) for i, m in enumerate(slack_members)
    ]
    member_rows += [
        (m, "teams", m.removeprefix("teams:"), f"Member {i}" if i % 3 else None) for i, m in enumerate(teams_members)
    ]
    insert("INSERT INTO members (member_id, platform, user_id, display_name) VALUES (?, ?, ?, ?)", member_rows)
    del member_rows
    # About a third of members agree to be quoted (their own generator: the rest of the history is unchanged).
    quoting = random.Random(params.seed + 2)
    consent_rows = [
        (m, "quote", _stamp(start_seconds, 0)) for m in slack_members + teams_members if quoting.random() < 0.35
    ]
    insert("INSERT INTO consents (member_id, kind, given_at) VALUES (?, ?, ?)", consent_rows)

    # Posts, spread over the weeks, in time order (ids grow with time, as in a live database).
    prompts = conn.execute("SELECT id, theme, text FROM prompts ORDER BY id").fetchall()
    start = start_seconds
    span = params.weeks * 7 * 86400
    post_secs = sorted(start + rng.randrange(span) for _ in range(params.posts))
    post_platform: list[int] = []  # 0 slack, 1 teams
    post_theme: list[str] = []
    post_channel: list[str] = []
    post_message: list[str] = []
    post_rows = []
    for index, seconds in enumerate(post_secs):
        post_id = index + 1
        platform = index % 2
        channel = (slack_channels if platform == 0 else teams_channels)[rng.randrange(params.channels)]
        micros = post_id % 1_000_000
        message = _slack_ts(seconds, micros) if platform == 0 else _teams_id(seconds, micros)
        prompt_id, theme, text = prompts[rng.randrange(len(prompts))]
        platform_name = "slack" if platform == 0 else "teams"
        post_rows.append((post_id, platform_name, channel, message, prompt_id, theme, text, _stamp(seconds, micros)))
        post_platform.append(platform)
        post_theme.append(theme)
        post_channel.append(channel)
        post_message.append(message)
    insert(
        """INSERT INTO posts (id, platform, channel_id, message_id, prompt_id, theme, prompt, posted_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
        post_rows,
    )
    del post_rows

    # Replies: each to a random post, mostly within hours of it (some days later), by a member of its platform.
    drafts = []
    for _ in range(params.replies):
        post = rng.randrange(params.posts)
        delay = min(rng.expovariate(1 / 21_600), 14 * 86400)
        drafts.append((post_secs[post] + int(delay), post, rng.randrange(per_platform)))
    drafts.sort()
    legacy = [" ".join(rng.choices(WORDS, k=rng.randint(4, 40))) for _ in range(2_000)]  # keeps rng's draws
    texts = reply_texts(params, len(legacy))
    reply_post: list[int] = []
    reply_secs: list[int] = []
    reply_rows = []
    for index, (seconds, post, member) in enumerate(drafts):
        reply_id = index + 1
        platform = post_platform[post]
        micros = reply_id % 1_000_000
        message = _slack_ts(seconds, micros) if platform == 0 else _teams_id(seconds, micros)
        members = slack_members if platform == 0 else teams_members
        reply_rows.append(
            (
                reply_id,
                post + 1,
                "slack" if platform == 0 else "teams",
                post_channel[post],
                message,
                members[member],
                texts[post_theme[post]][rng.randrange(len(legacy))],
                _stamp(seconds, micros),
                None,
            )
        )
        reply_post.append(post)
        reply_secs.append(seconds)
    del drafts
    insert(
        """INSERT INTO replies (id, post_id, platform, channel_id, message_id, member_id, text, created_at,
                                edited_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        reply_rows,
    )
    reply_messages = [row[4] for row in reply_rows]
    del reply_rows

    # Reactions: a quarter on posts, the rest on replies; distinct members per target keep the key unique.
    # About 0.5% target a message that is not a known post or reply (unresolved), about 0.5% were removed.
    seen_per_target: dict[int, int] = {}
    reaction_drafts = []
    for number in range(params.reactions):
        roll = rng.random()
        if roll < 0.005:
            reaction_drafts.append((start + rng.randrange(span), -1 - number, rng.randrange(per_platform), 0))
            continue
        if roll < 0.255:
            target = rng.randrange(params.posts)  # a post: target code = post index
            base = post_secs[target]
        else:
            reply = rng.randrange(params.replies)  # a reply: target code = posts + reply index
            target = params.posts + reply
            base = reply_secs[reply]
        seen = seen_per_target.get(target, 0)
        seen_per_target[target] = seen + 1
        member = (target * 7 + seen * 7919) % per_platform
        delay = min(rng.expovariate(1 / 43_200), 21 * 86400)
        reaction_drafts.append((base + int(delay), target, member, 1 if roll > 0.995 else 0))
    del seen_per_target
    reaction_drafts.sort()
    reaction_rows = []
    for index, (seconds, target, member, removed) in enumerate(reaction_drafts):
        reaction_id = index + 1
        micros = reaction_id % 1_000_000
        on_post: int | None
        on_reply: int | None
        if target < 0:  # unresolved: a message that never became a known post or reply
            post = rng.randrange(params.posts)
            platform = post_platform[post]
            unknown = _slack_ts(seconds, micros) if platform == 0 else _teams_id(seconds, micros)
            target_id, on_post, on_reply = unknown, None, None
        elif target < params.posts:
            post = target
            platform = post_platform[post]
            target_id, on_post, on_reply = post_message[post], post + 1, None
        else:
            reply = target - params.posts
            post = reply_post[reply]
            platform = post_platform[post]
            target_id, on_post, on_reply = reply_messages[reply], post + 1, reply + 1
        if platform == 0:
            who, name = slack_members[member], rng.choices(SLACK_REACTIONS, SLACK_WEIGHTS)[0]
        else:
            who, name = teams_members[member], rng.choices(TEAMS_REACTIONS, TEAMS_WEIGHTS)[0]
        added = _stamp(seconds, micros)
        removed_at = _stamp(seconds + 3600, micros) if removed else None
        reaction_rows.append(
            (
                reaction_id,
                "slack" if platform == 0 else "teams",
                post_channel[post],
                target_id,
                who,
                name,
                added,
                removed_at,
                on_post,
                on_reply,
            )
        )
    del reaction_drafts
    insert(
        """INSERT INTO reactions (id, platform, channel_id, target_id, member_id, name, created_at, removed_at,
                                  post_id, reply_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        reaction_rows,
    )
    del reaction_rows

    for _name, sql in indexes:
        conn.execute(sql)
    # Statistics as a live database gets them from the first `PRAGMA optimize` in Repository.close(); without
    # them the first CLI run would analyse the tables itself (timed and reported), then later runs differ.
    began = time.perf_counter()
    conn.execute("ANALYZE")
    analyze_seconds = time.perf_counter() - began
    counts = repo.counts()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    repo.db.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    partial.replace(path)
    print(f"built: {counts}; ANALYZE of the full history took {analyze_seconds:.1f} s", flush=True)
    return counts


def ensure_history(params: Params, *, rebuild: bool) -> tuple[Path, float | None]:
    """The cached database for ``params`` (built if missing or ``rebuild``) and the build time if built."""
    path = cache_path(params)
    if path.exists() and not rebuild:
        return path, None
    began = time.perf_counter()
    build_history(path, params)
    return path, time.perf_counter() - began


# -- measuring -----------------------------------------------------------------------------------------------


def sample_weeks(params: Params, count: int) -> list[IsoWeek]:
    """``count`` different weeks spread over the history (the first and last few weeks are ramp-up/down)."""
    tz = ZoneInfo(TIMEZONE)
    first = IsoWeek.containing(FIRST_MONDAY + timedelta(days=3), tz)
    usable = list(range(2, params.weeks - 1))
    step = max(1, len(usable) // count)
    picked = usable[::step][:count]
    weeks = []
    for offset in picked:
        year, week, _ = (first.monday() + timedelta(weeks=offset)).isocalendar()
        weeks.append(IsoWeek(year, week))
    return weeks
