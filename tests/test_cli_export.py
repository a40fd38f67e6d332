"""`engagebot export` for spreadsheets: week ranges, replies only, local times, quote consent, Excel, pseudonyms,
and an --output that never replaces a file by surprise, nor ever the database."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from storage.repository import Repository
from tests.cli_support import CSV_HEADER, SLACK_POST, TEAMS_POST, WEEK, add_later_reply, one_line_error, run


def export_json(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    code, out, err = run(capsys, "export", "--format", "json", *argv)
    assert code == 0, err
    rows: list[dict[str, Any]] = json.loads(out)
    return rows


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- columns ---------------------------------------------------------------------------------------------------------


def test_local_date_and_time_in_the_configured_timezone(
    db: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "engagebot.toml").write_text('timezone = "Pacific/Auckland"\n', encoding="utf-8")
    rows = export_json(capsys, "--week", WEEK)
    assert [(r["created_at"], r["week"], r["local_date"], r["local_time"]) for r in rows] == [
        ("2026-11-16T10:04:00+00:00", WEEK, "2026-11-16", "23:04:00"),  # NZDT is UTC+13
        ("2026-11-16T10:20:00+00:00", WEEK, "2026-11-16", "23:20:00"),
        ("2026-11-16T10:25:00+00:00", WEEK, "2026-11-16", "23:25:00"),
        ("2026-11-17T10:10:00+00:00", WEEK, "2026-11-17", "23:10:00"),
        ("2026-11-17T11:00:00+00:00", WEEK, "2026-11-18", "00:00:00"),  # the next local day
    ]


def test_csv_keeps_the_old_columns_first_and_appends_the_new(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "export", "--week", WEEK)
    assert code == 0
    assert out.splitlines()[0] == CSV_HEADER
    first = next(csv.DictReader(io.StringIO(out)))
    assert (first["week"], first["local_date"], first["local_time"], first["quote_consent"]) == (
        WEEK,
        "2026-11-16",
        "10:04:00",  # London is on GMT in November
        "no",
    )


def test_quote_consent_follows_what_each_member_said(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = Repository.open(db)
    try:
        repo.set_consent("slack:U1", "quote", True, datetime(2026, 11, 20, tzinfo=UTC))
    finally:
        repo.close()
    rows = export_json(capsys, "--week", WEEK)
    assert [(r["kind"], r["member"], r["quote_consent"]) for r in rows] == [
        ("reply", "slack:U1", "yes"),
        ("reply", "slack:U2", "no"),
        ("reaction", "slack:U2", ""),
        ("reply", "teams:29:1abc", "no"),
        ("reaction", "teams:29:1abc", ""),
    ]


def test_replies_only(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = export_json(capsys, "--week", WEEK, "--replies-only")
    assert [(r["kind"], r["message_id"]) for r in rows] == [
        ("reply", "200.1"),
        ("reply", "200.2"),
        ("reply", "1795000001000"),
    ]


# -- week ranges -----------------------------------------------------------------------------------------------------


def test_from_to_is_an_inclusive_range_of_weeks(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_later_reply(db)
    assert len(export_json(capsys, "--week", WEEK)) == 5
    rows = export_json(capsys, "--from", WEEK, "--to", "2026-W48")
    assert [r["week"] for r in rows] == [WEEK] * 5 + ["2026-W48"]
    assert [r["message_id"] for r in export_json(capsys, "--from", "2026-W48", "--to", "2026-w48")] == ["300.1"]
    assert [r["message_id"] for r in export_json(capsys, "--from", "2026-W48")] == ["300.1"]  # to this week
    assert export_json(capsys, "--from", "2026-W40", "--to", "2026-W46") == []


def test_from_to_written_to_a_file_says_the_range(db: Path, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = workdir / "autumn.csv"
    code, out, err = run(capsys, "export", "--from", "2026-W46", "--to", WEEK, "--output", str(target))
    assert (code, out) == (0, "")
    assert err.strip() == f"wrote 5 rows of 2026-W46..{WEEK} to {target}"
    assert len(target.read_text(encoding="utf-8").splitlines()) == 6


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ["--week", WEEK, "--from", WEEK], "engagebot: give either --week or --from/--to, not both", id="week-from"
        ),
        pytest.param(
            ["--week", WEEK, "--to", WEEK], "engagebot: give either --week or --from/--to, not both", id="week-to"
        ),
        pytest.param(["--to", WEEK], "engagebot: --to needs --from (the first week of the range)", id="to-alone"),
        pytest.param(
            ["--from", "2026-W48", "--to", WEEK], f"engagebot: --from 2026-W48 is after --to {WEEK}", id="reversed"
        ),
        pytest.param(["--from", "2026-W60"], "engagebot: invalid week '2026-W60': 2026 has no week 60", id="bad-from"),
        pytest.param(
            ["--from", WEEK, "--to", "soon"],
            "engagebot: invalid week 'soon': use YYYY-Www (e.g. 2026-W48), 'this' or 'last'",
            id="bad-to",
        ),
        pytest.param(
            ["--excel", "--format", "json"], "engagebot: --excel writes CSV for spreadsheets: leave out --format json"
        ),
        pytest.param(
            ["--member", "slack:U1", "--from", WEEK],
            "engagebot: --member exports everything about one member: it cannot be combined with --from",
            id="member-from",
        ),
        pytest.param(
            ["--member", "slack:U1", "--anonymous"],
            "engagebot: --member exports everything about one member: it cannot be combined with --anonymous",
            id="member-anonymous",
        ),
    ],
)
def test_contradictory_options_are_refused(
    db: Path, workdir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert one_line_error(capsys, "export", *argv, "--output", str(workdir / "out.csv")) == message
    assert not (workdir / "out.csv").exists()


# -- Excel and pseudonyms --------------------------------------------------------------------------------------------


def test_excel_csv_is_utf8_with_a_byte_order_mark(db: Path, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = Repository.open(db)
    try:
        repo.set_display_name("slack:U1", "Zoë Brontë")
    finally:
        repo.close()
    target = workdir / "week.csv"
    assert run(capsys, "export", "--week", WEEK, "--excel", "--output", str(target))[0] == 0
    data = target.read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    assert "Zoë Brontë".encode() in data
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0] == CSV_HEADER
    assert text.count("\ufeff") == 0  # exactly one mark, at the start
    plain = workdir / "plain.csv"
    assert run(capsys, "export", "--week", WEEK, "--output", str(plain))[0] == 0
    assert not plain.read_bytes().startswith(codecs.BOM_UTF8)


def test_anonymous_export_replaces_members_names_and_their_message_ids(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    named = export_json(capsys, "--week", WEEK)
    rows = export_json(capsys, "--week", WEEK, "--anonymous")
    assert [(r["kind"], r["member"], r["display_name"], r["message_id"]) for r in rows] == [
        ("reply", "member-001", "", "message-0001"),
        ("reply", "member-002", "", "message-0002"),
        ("reaction", "member-002", "", "message-0001"),  # still points at the first reply
        ("reply", "member-003", "", "message-0003"),
        ("reaction", "member-003", "", TEAMS_POST),  # a reaction to the prompt keeps the prompt's own id
    ]
    assert [r["post_id"] for r in rows] == [r["post_id"] for r in named]
    assert [r["text"] for r in rows] == [r["text"] for r in named]
    code, out, _ = run(capsys, "export", "--week", WEEK, "--anonymous")
    assert code == 0
    for identifying in ("U1", "U2", "29:1abc", "Ada Lovelace", "Mallory", "200.1", "200.2", "1795000001000"):
        assert identifying not in out
    assert SLACK_POST in out  # the prompts stay identifiable


# -- --output --------------------------------------------------------------------------------------------------------


def test_output_never_replaces_a_file_unless_forced(
    db: Path, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = workdir / "report.csv"
    target.write_text("the analyst's own work\n", encoding="utf-8")
    assert one_line_error(capsys, "export", "--week", WEEK, "--output", str(target)) == (
        f"engagebot: --output {target} already exists: choose another file, or pass --force to replace it"
    )
    assert target.read_text(encoding="utf-8") == "the analyst's own work\n"
    code, _, err = run(capsys, "export", "--week", WEEK, "--output", str(target), "--force")
    assert code == 0, err
    assert target.read_text(encoding="utf-8").splitlines()[0] == CSV_HEADER


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm"])
@pytest.mark.parametrize("spelling", ["absolute", "relative"])
def test_output_is_never_the_database(
    db: Path, workdir: Path, capsys: pytest.CaptureFixture[str], suffix: str, spelling: str
) -> None:
    holder = Repository.open(db)  # as `serve` would hold it: the -wal and -shm files exist
    try:
        before = digest(db)
        name = str(db) + suffix if spelling == "absolute" else f"data/../data/engagement.db{suffix}"
        line = one_line_error(capsys, "export", "--week", WEEK, "--output", name, "--force")
        assert line == f"engagebot: --output {name} is the database {db}{suffix}: choose another file"
        assert digest(db) == before
        assert holder.db.execute("SELECT count(*) FROM replies").fetchone()[0] == 3
    finally:
        holder.close()


def test_output_is_never_the_database_named_by_db(
    db: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENGAGEBOT_DB", str(workdir / "elsewhere.db"))
    before = digest(db)
    line = one_line_error(capsys, "export", "--db", str(db), "--week", WEEK, "--output", str(db), "--force")
    assert line == f"engagebot: --output {db} is the database {db}: choose another file"
    assert digest(db) == before
