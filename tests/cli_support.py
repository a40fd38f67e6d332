"""For the command-line tests: running the CLI in-process, and a week of activity on both platforms in SQLite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import app
from bot.capture import Capture
from bot.config import DEFAULT_PROMPT_LIBRARY
from bot.events import CaptureEvent, Platform, ReactionAdded, ReplyEdited, ReplyPosted
from bot.prompts import load_library
from storage.repository import Repository

SLACK, TEAMS = Platform.SLACK, Platform.TEAMS
MONDAY = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)  # 2026-W47 starts (GMT)
WEEK = "2026-W47"
SLACK_POST, TEAMS_POST, TEAMS_CHANNEL = "1795000000.000100", "1795000000999", "19:abc@thread.tacv2"
CSV_HEADER = (
    "kind,platform,channel,post_id,theme,prompt,message_id,member,display_name,text,reaction,created_at,edited_at,"
    "week,local_date,local_time,quote_consent"
)
FORMULA = '=HYPERLINK("http://evil.example","click")'


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``engagebot ARGV`` in-process: exit code, standard output, standard error."""
    code = app.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run a command that must fail as a user error: exit code 2, nothing on stdout, one line, no traceback."""
    code, out, err = run(capsys, *argv)
    assert code == 2, (out, err)
    assert out == ""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def build_week(path: Path) -> None:
    """Two posts of WEEK (Slack and Teams) with replies, an edit and reactions, written through Capture."""
    library = load_library(DEFAULT_PROMPT_LIBRARY)
    workforce = next(t for t in library.themes if t.name == "Workforce").prompts[0]
    prevention = library.themes[0].prompts[0]
    repo = Repository.open(path)
    try:
        repo.record_post(SLACK, "C1", SLACK_POST, workforce, MONDAY + timedelta(hours=10))
        repo.record_post(TEAMS, TEAMS_CHANNEL, TEAMS_POST, prevention, MONDAY + timedelta(days=1, hours=10))
        capture = Capture(repo)
        at = MONDAY + timedelta(hours=10)
        events: list[CaptureEvent] = [
            ReplyPosted(
                platform=SLACK,
                channel_id="C1",
                occurred_at=at + timedelta(minutes=4),
                event_key="E1",
                thread_id=SLACK_POST,
                message_id="200.1",
                user_id="U1",
                text="Protected time for training",
                display_name="Ada Lovelace",
            ),
            ReplyPosted(
                platform=SLACK,
                channel_id="C1",
                occurred_at=at + timedelta(minutes=20),
                event_key="E2",
                thread_id=SLACK_POST,
                message_id="200.2",
                user_id="U2",
                text=FORMULA,
                display_name="+Mallory",
            ),
            ReplyEdited(
                platform=SLACK,
                channel_id="C1",
                occurred_at=at + timedelta(minutes=30),
                event_key="E3",
                message_id="200.1",
                text="Protected time for training and CPD",
            ),
            ReactionAdded(
                platform=SLACK,
                channel_id="C1",
                occurred_at=at + timedelta(minutes=25),
                event_key="E4",
                target_id="200.1",
                user_id="U2",
                name="+1",
            ),
            ReplyPosted(
                platform=TEAMS,
                channel_id=TEAMS_CHANNEL,
                occurred_at=MONDAY + timedelta(days=1, hours=10, minutes=10),
                event_key="A1",
                thread_id=TEAMS_POST,
                message_id="1795000001000",
                user_id="29:1abc",
                text="Screening in the community",
            ),
            ReactionAdded(
                platform=TEAMS,
                channel_id=TEAMS_CHANNEL,
                occurred_at=MONDAY + timedelta(days=1, hours=11),
                event_key="A2",
                target_id=TEAMS_POST,
                user_id="29:1abc",
                name="like",
            ),
        ]
        for event in events:
            capture.apply(event)
    finally:
        repo.close()


def add_later_reply(path: Path) -> None:
    """A reply by slack:U1 in the week after WEEK (2026-W48), in the thread of the Slack post."""
    repo = Repository.open(path)
    try:
        Capture(repo).apply(
            ReplyPosted(
                platform=SLACK,
                channel_id="C1",
                occurred_at=MONDAY + timedelta(days=8, hours=9),
                event_key="E9",
                thread_id=SLACK_POST,
                message_id="300.1",
                user_id="U1",
                text="Still thinking about it",
            )
        )
    finally:
        repo.close()
