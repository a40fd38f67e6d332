"""`engagebot report` on the command line: the period it covers, the file it writes (never over an existing file
without --force, never over the database), standard output, and every mistake a clear exit 2."""

from __future__ import annotations

import hashlib
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.timeutil import IsoWeek, utc_now
from tests.cli_support import WEEK, one_line_error, run

GENERATED = "2026-12-01T09:00:00Z"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_default_is_the_last_8_complete_weeks_in_a_file_named_after_them(
    db: Path, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    last = IsoWeek.containing(utc_now(), ZoneInfo("Europe/London")).previous()
    code, out, err = run(capsys, "report")
    assert code == 0, err
    name = f"report-{last.back(7)}-{last}.html"
    assert out == f"{name}\n"  # the path written, and nothing else
    html = (workdir / name).read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert f"({last.back(7)} to {last})" in html


def test_from_to_and_weeks_choose_the_period(db: Path, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "report", "--from", "2026-W46", "--to", WEEK, "--generated-at", GENERATED)
    assert (code, out) == (0, "report-2026-W46-2026-W47.html\n")
    html = (workdir / "report-2026-W46-2026-W47.html").read_text(encoding="utf-8")
    assert "2 weeks (2026-W46 to 2026-W47)" in html
    assert "01 Dec 2026 09:00 UTC" in html
    code, out, _ = run(capsys, "report", "--to", WEEK)
    assert (code, out) == (0, "report-2026-W40-2026-W47.html\n")  # the 8 weeks that end with --to


def test_output_dash_writes_the_html_to_standard_output(
    db: Path, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "report", "--from", WEEK, "--to", WEEK, "--output", "-", "--generated-at", GENERATED)
    assert code == 0
    assert out.startswith("<!DOCTYPE html>")
    assert out.rstrip().endswith("</html>")
    assert list(workdir.glob("*.html")) == []


def test_two_runs_with_the_same_generated_at_are_byte_identical_and_exact_says_so(
    db: Path, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ("report", "--from", WEEK, "--to", WEEK, "--generated-at", GENERATED)
    assert run(capsys, *common, "--output", "a.html")[0] == 0
    assert run(capsys, *common, "--output", "b.html")[0] == 0
    assert (workdir / "a.html").read_bytes() == (workdir / "b.html").read_bytes()
    assert run(capsys, *common, "--output", "exact.html", "--exact")[0] == 0
    exact = (workdir / "exact.html").read_text(encoding="utf-8")
    assert "Exact figures: small-group suppression is switched off" in exact
    assert "fewer than 3" not in exact
    assert "fewer than 3" in (workdir / "a.html").read_text(encoding="utf-8")  # the week has one Teams member


def test_an_existing_file_is_replaced_only_with_force(
    db: Path, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = workdir / "report-2026-W47-2026-W47.html"
    target.write_text("keep me", encoding="utf-8")
    line = one_line_error(capsys, "report", "--from", WEEK, "--to", WEEK)
    assert "already exists" in line
    assert "--force" in line
    assert target.read_text(encoding="utf-8") == "keep me"
    code, out, _ = run(capsys, "report", "--from", WEEK, "--to", WEEK, "--force")
    assert (code, out) == (0, f"{target.name}\n")
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_the_output_is_never_the_database(db: Path, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = digest(db)
    for name in (str(db), f"{db}-wal", str(workdir / "data" / ".." / "data" / "engagement.db")):
        line = one_line_error(capsys, "report", "--from", WEEK, "--to", WEEK, "--output", name, "--force")
        assert "is the database" in line
    assert digest(db) == before
    other = workdir / "other.db"
    other.write_bytes(db.read_bytes())
    line = one_line_error(capsys, "report", "--db", str(other), "--output", str(other), "--force")
    assert "is the database" in line


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--from", "2026-W99"), "invalid week '2026-W99'"),
        (("--to", "yesterday"), "invalid week 'yesterday'"),
        (("--from", "2026-W48", "--to", "2026-W40"), "--from 2026-W48 is after --to 2026-W40"),
        (("--weeks", "4", "--from", "2026-W40"), "give either --weeks or --from/--to, not both"),
        (("--weeks", "4", "--to", "2026-W40"), "give either --weeks or --from/--to, not both"),
        (
            (
                "--weeks",
                "0",
            ),
            "must be at least 1",
        ),
        (
            (
                "--weeks",
                "200",
            ),
            "at most 104 weeks",
        ),
        (("--from", "2020-W01", "--to", "2026-W40"), "at most 104 weeks"),
        (("--generated-at", "soon"), "--generated-at 'soon' is not an ISO 8601 time"),
    ],
)
def test_bad_periods_and_times_are_usage_errors(
    db: Path, workdir: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    line = one_line_error(capsys, "report", *argv)
    assert message in line
    assert list(workdir.glob("*.html")) == []


def test_a_missing_database_is_exit_2_and_creates_nothing(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line_error(capsys, "report", "--db", str(workdir / "nowhere.db"))
    assert "no database at" in line
    assert not (workdir / "nowhere.db").exists()
    assert list(workdir.glob("*.html")) == []
