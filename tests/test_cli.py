"""The command line (SPEC §9): input errors exit 2 with one clear line, and the happy paths against a temp DB."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import app
from bot.config import DEFAULT_PROMPT_LIBRARY
from bot.prompts import load_library
from bot.timeutil import IsoWeek
from storage.repository import Repository
from tests.cli_support import (
    CSV_HEADER,
    FORMULA,
    SLACK_POST,
    TEAMS_CHANNEL,
    TEAMS_POST,
    WEEK,
    one_line_error,
    run,
)

SUBCOMMANDS = ("serve", "demo", "post", "summary", "export", "prompts", "forget")


# -- input errors ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ["summary", "--week", "2026-W54"], "engagebot: invalid week '2026-W54': 2026 has no week 54", id="W54"
        ),
        pytest.param(
            ["summary", "--week", "2026-W00"], "engagebot: invalid week '2026-W00': 2026 has no week 00", id="W00"
        ),
        pytest.param(["summary", "--week", "bogus"], "engagebot: invalid week 'bogus': use YYYY-Www", id="bogus"),
        pytest.param(["export", "--week", "2026-48"], "engagebot: invalid week '2026-48'", id="export-week"),
        pytest.param(
            ["forget", "--member", "nonsense"], "engagebot: --member: 'nonsense' is not a member id", id="member"
        ),
        pytest.param(["forget", "--member", "irc:U1"], "engagebot: --member: 'irc:U1' is not a member id", id="irc"),
        pytest.param(["post", "--channel", "C1"], "engagebot: --channel needs --platform", id="channel"),
        pytest.param(
            ["post", "--platform", "slack", "--channel", "#general"],
            "engagebot: --channel '#general' is a channel name, not its id: write the channel id (C… or G…)",
            id="slack-channel-name",
        ),
        pytest.param(
            ["post", "--platform", "teams", "--channel", "General"],
            "engagebot: --channel 'General' is not a Teams channel id: write the id 19:…@thread.tacv2",
            id="teams-channel-name",
        ),
    ],
)
def test_invalid_input_is_a_clear_error(
    db: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert one_line_error(capsys, *argv).startswith(message)


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        pytest.param(
            ["export", "--format", "xml"], ["engagebot export:", "--format", "invalid choice: 'xml'"], id="xml"
        ),
        pytest.param(["frobnicate"], ["engagebot:", "invalid choice: 'frobnicate'"], id="unknown-subcommand"),
        pytest.param(["demo", "--weeks", "0"], ["engagebot demo:", "--weeks", "'0' must be at least 1"], id="weeks-0"),
        pytest.param(["demo", "--weeks", "two"], ["engagebot demo:", "'two' is not a whole number"], id="weeks-word"),
        pytest.param(["forget"], ["engagebot forget:", "required: --member"], id="forget-no-member"),
        pytest.param(["post", "--platform", "irc"], ["engagebot post:", "invalid choice: 'irc'"], id="platform"),
        pytest.param([], ["engagebot:", "required: COMMAND"], id="no-subcommand"),
        pytest.param(["summary", "--jsn"], ["engagebot:", "unrecognized arguments: --jsn"], id="typo"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    workdir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], fragments: list[str]
) -> None:
    line = one_line_error(capsys, *argv)
    for fragment in fragments:
        assert fragment in line
    assert not (workdir / "data").exists()  # nothing was opened or created


def test_help_lists_every_subcommand_with_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        app.main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: engagebot")
    for name in SUBCOMMANDS:
        match = re.search(rf"^\s+{name}\s+(\S.*)$", out, re.MULTILINE)
        assert match, f"{name} missing from --help"
        assert len(match.group(1)) > 10


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_each_subcommand_has_help(capsys: pytest.CaptureFixture[str], name: str) -> None:
    with pytest.raises(SystemExit) as exited:
        app.main([name, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: engagebot {name}")
    options = {
        "demo": ["--db", "--weeks", "--seed"],
        "post": ["--theme", "--platform", "--channel", "--dry-run"],
        "summary": ["--week", "--json", "--db"],
        "export": [
            "--week",
            "--from",
            "--to",
            "--format",
            "--replies-only",
            "--anonymous",
            "--excel",
            "--output",
            "--force",
            "--member",
            "--db",
        ],
        "prompts": ["--json", "--db"],
        "forget": ["--member", "--yes", "--db"],
        "serve": [],
    }[name]
    for option in options:
        assert option in out


# -- summary ------------------------------------------------------------------------------------------------------


def test_summary_json_is_exactly_the_spec_object(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "summary", "--week", WEEK, "--json")
    assert (code, err) == (0, "")
    summary = json.loads(out)  # exactly one JSON document: anything else on stdout would not parse
    assert list(summary) == [
        "week",
        "start",
        "end",
        "timezone",
        "totals",
        "previous_week",
        "by_platform",
        "by_theme",
        "by_post",
        "top_reactions",
    ]
    assert summary["week"] == WEEK
    assert (summary["start"], summary["end"]) == ("2026-11-16T00:00:00+00:00", "2026-11-23T00:00:00+00:00")
    assert summary["timezone"] == "Europe/London"
    assert summary["totals"] == {
        "posts": 2,
        "replies": 3,
        "reactions": 2,
        "participants": 3,
        "new_participants": 3,
        "returning_participants": 0,
        "median_minutes_to_first_reply": 7.0,  # first replies after 4 and 10 minutes
    }
    assert summary["previous_week"] == {"posts": 0, "replies": 0, "reactions": 0, "participants": 0}
    assert summary["by_platform"] == {
        "slack": {"posts": 1, "replies": 2, "reactions": 1, "participants": 2},
        "teams": {"posts": 1, "replies": 1, "reactions": 1, "participants": 1},
    }
    assert summary["by_theme"] == [
        {"theme": "Workforce", "posts": 1, "replies": 2, "reactions": 1, "participants": 2},
        {"theme": "Prevention", "posts": 1, "replies": 1, "reactions": 1, "participants": 1},
    ]
    library = load_library(DEFAULT_PROMPT_LIBRARY)
    first = summary["by_post"][0]
    assert list(first) == [
        "post_id",
        "platform",
        "channel",
        "theme",
        "prompt",
        "posted_at",
        "replies",
        "reactions",
        "participants",
    ]
    assert first == {
        "post_id": f"slack:C1:{SLACK_POST}",
        "platform": "slack",
        "channel": "C1",
        "theme": "Workforce",
        "prompt": next(t for t in library.themes if t.name == "Workforce").prompts[0].text,
        "posted_at": "2026-11-16T10:00:00+00:00",
        "replies": 2,
        "reactions": 1,
        "participants": 2,
    }
    assert summary["by_post"][1]["post_id"] == f"teams:{TEAMS_CHANNEL}:{TEAMS_POST}"
    assert summary["by_post"][1]["posted_at"] == "2026-11-17T10:00:00+00:00"
    assert summary["top_reactions"] == [{"name": "+1", "count": 1}, {"name": "like", "count": 1}]


def test_summary_of_the_following_week_shows_the_previous_one(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "summary", "--week", "2026-w48", "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["week"] == "2026-W48"
    assert summary["previous_week"] == {"posts": 2, "replies": 3, "reactions": 2, "participants": 3}
    assert summary["totals"]["median_minutes_to_first_reply"] is None
    assert summary["by_post"] == []


def test_summary_defaults_to_last_week(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "summary", "--json")
    assert code == 0
    expected = IsoWeek.containing(datetime.now(UTC), ZoneInfo("Europe/London")).previous()
    assert json.loads(out)["week"] == str(expected)


def test_summary_text_report(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "summary", "--week", WEEK)
    assert (code, err) == (0, "")
    assert out.startswith("Engagement summary 2026-W47 (week starting Mon 16 Nov 2026, Europe/London)")
    for line in (
        "Posts              2   (+2 on previous week)",
        "Replies            3   (+3)",
        "Participants       3   (+3; 3 new, 0 returning)",
        "Median time to first reply: 7 min",
        "slack  posts 1, replies 2, reactions 1, participants 2",
        "teams  posts 1, replies 1, reactions 1, participants 1",
        "Top reactions: +1 1, like 1",
    ):
        assert line in out
    assert FORMULA not in out  # reply text is not part of the summary


def test_cli_works_while_another_process_holds_the_database(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = Repository.open(db)  # as `serve` would
    try:
        server.db.execute("SELECT count(*) FROM replies").fetchone()
        code, out, _ = run(capsys, "summary", "--week", WEEK, "--json")
        assert code == 0
        assert json.loads(out)["totals"]["replies"] == 3
    finally:
        server.close()


# -- export ----------------------------------------------------------------------------------------------------------


def test_export_csv_to_stdout(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "export", "--week", WEEK)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == CSV_HEADER
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["kind"], r["message_id"], r["member"]) for r in rows] == [
        ("reply", "200.1", "slack:U1"),
        ("reply", "200.2", "slack:U2"),
        ("reaction", "200.1", "slack:U2"),
        ("reply", "1795000001000", "teams:29:1abc"),
        ("reaction", TEAMS_POST, "teams:29:1abc"),
    ]
    first = rows[0]
    assert first["text"] == "Protected time for training and CPD"  # the edited text
    assert first["display_name"] == "Ada Lovelace"
    assert first["post_id"] == f"slack:C1:{SLACK_POST}"
    assert (first["created_at"], first["edited_at"]) == ("2026-11-16T10:04:00+00:00", "2026-11-16T10:30:00+00:00")
    assert rows[2]["reaction"] == "+1"
    # member-written cells cannot run as spreadsheet formulas
    assert rows[1]["text"] == "'" + FORMULA
    assert rows[1]["display_name"] == "'+Mallory"
    assert not any(value.startswith(("=", "+", "@")) for r in rows for value in r.values() if value != "+1")


def test_export_json_to_stdout(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "export", "--week", WEEK, "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 5
    assert list(rows[0]) == CSV_HEADER.split(",")
    assert rows[1]["text"] == FORMULA  # JSON carries the text as written
    assert rows[4] == {
        "kind": "reaction",
        "platform": "teams",
        "channel": TEAMS_CHANNEL,
        "post_id": f"teams:{TEAMS_CHANNEL}:{TEAMS_POST}",
        "theme": "Prevention",
        "prompt": load_library(DEFAULT_PROMPT_LIBRARY).themes[0].prompts[0].text,
        "message_id": TEAMS_POST,
        "member": "teams:29:1abc",
        "display_name": "",
        "text": "",
        "reaction": "like",
        "created_at": "2026-11-17T11:00:00+00:00",
        "edited_at": "",
        "week": WEEK,
        "local_date": "2026-11-17",
        "local_time": "11:00:00",
        "quote_consent": "",
    }


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_to_a_file(db: Path, workdir: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    target = workdir / f"week.{fmt}"
    code, out, err = run(capsys, "export", "--week", WEEK, "--format", fmt, "--output", str(target))
    assert (code, out) == (0, "")
    assert err.strip() == f"wrote 5 rows of {WEEK} to {target}"
    text = target.read_text(encoding="utf-8")
    if fmt == "csv":
        assert text.splitlines()[0] == CSV_HEADER
        assert len(text.splitlines()) == 6
    else:
        assert len(json.loads(text)) == 5
    assert not list(workdir.glob("*.part"))


def test_export_of_an_empty_week_is_just_the_header(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "export", "--week", "2026-W40")
    assert (code, out) == (0, CSV_HEADER + "\n")


def test_export_to_a_directory_is_an_error(db: Path, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line_error(capsys, "export", "--week", WEEK, "--output", str(workdir))
    assert line == f"engagebot: --output {workdir} is a directory"


# -- prompts and forget --------------------------------------------------------------------------------------------


def test_prompts_json_lists_the_library_with_last_posted(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "prompts", "--json")
    assert code == 0
    listing = json.loads(out)
    library = load_library(DEFAULT_PROMPT_LIBRARY)
    assert len(listing) == len(library.prompts)
    assert all(list(item) == ["theme", "prompt", "last_posted"] for item in listing)
    assert [(i["theme"], i["prompt"]) for i in listing] == [(p.theme, p.text) for p in library.prompts]
    posted = {i["prompt"]: i["last_posted"] for i in listing if i["last_posted"] is not None}
    assert posted == {
        next(t for t in library.themes if t.name == "Workforce").prompts[0].text: "2026-11-16T10:00:00+00:00",
        library.themes[0].prompts[0].text: "2026-11-17T10:00:00+00:00",
    }


def test_prompts_text_lists_themes_and_prompts(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "prompts")
    assert code == 0
    library = load_library(DEFAULT_PROMPT_LIBRARY)
    for theme in library.theme_names():
        assert f"\n{theme}\n" in f"\n{out}"
    assert "last posted: 2026-11-16T10:00:00+00:00" in out
    assert out.count("last posted: never") == len(library.prompts) - 2


def test_forget_erases_the_member(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "forget", "--member", "slack:U2", "--yes")
    assert code == 0
    assert "Traceback" not in err
    assert out.startswith("erased slack:U2: 1 reply, 1 reaction, 0 dashboard sign-in links, 0 dashboard sessions;")
    code, out, _ = run(capsys, "export", "--week", WEEK, "--format", "json")
    rows = json.loads(out)
    assert "slack:U2" not in {r["member"] for r in rows}
    assert FORMULA not in out
    assert len(rows) == 3
    code, out, _ = run(capsys, "summary", "--week", WEEK, "--json")
    totals = json.loads(out)["totals"]
    assert (totals["replies"], totals["reactions"], totals["participants"]) == (2, 1, 2)
    # forgetting twice is fine and says so (the erasure is on record: the member was seen)
    code, out, _ = run(capsys, "forget", "--member", "slack:U2", "--yes")
    assert code == 0
    assert out.startswith("erased slack:U2: 0 replies, 0 reactions")


def test_summary_uses_the_configured_timezone(
    db: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "engagebot.toml").write_text('timezone = "America/New_York"\n', encoding="utf-8")
    monkeypatch.setenv("ENGAGEBOT_CONFIG", str(workdir / "engagebot.toml"))
    code, out, _ = run(capsys, "summary", "--week", WEEK, "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["timezone"] == "America/New_York"
    assert (summary["start"], summary["end"]) == ("2026-11-16T00:00:00-05:00", "2026-11-23T00:00:00-05:00")
    # the Slack post (Monday 10:00 UTC) and everything after it still fall in this New York week
    assert summary["totals"]["posts"] == 2
