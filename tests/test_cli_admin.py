"""Admin commands that must not do harm by mistake: read-only commands never create a database, `forget` refuses
members never seen and asks first, `demo` replaces only its own files, `teams-package` warns of example URLs."""

from __future__ import annotations

import io
import json
import sqlite3
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from storage.repository import Repository
from tests.cli_support import WEEK, one_line_error, run

APP_ID = "00000000-0000-4000-8000-0000000000b0"


def count(db: Path, table: str, member: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table} WHERE member_id = ?", [member]).fetchone()[0])


class Terminal(io.StringIO):
    """Standard input as a person at a terminal would give it."""

    def isatty(self) -> bool:
        return True


# -- read-only commands need an existing database --------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["summary", "--json"],
        ["export", "--week", WEEK],
        ["prompts"],
        ["forget", "--member", "slack:U1", "--yes"],
    ],
)
def test_commands_refuse_a_database_that_does_not_exist(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    missing = workdir / "data" / "engagement.db"
    monkeypatch.setenv("ENGAGEBOT_DB", str(missing))
    assert one_line_error(capsys, *argv) == (
        f"engagebot: no database at {missing}: name the right one with --db PATH or ENGAGEBOT_DB "
        "(after the demo: --db data/demo.db)"
    )
    assert not missing.exists()
    assert not missing.parent.exists()
    typo = workdir / "demo.bd"
    assert one_line_error(capsys, *argv, "--db", str(typo)).startswith(f"engagebot: no database at {typo}: ")
    assert not typo.exists()


def test_db_option_names_the_database(
    db: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENGAGEBOT_DB", str(workdir / "nothing-here.db"))
    code, out, _ = run(capsys, "summary", "--week", WEEK, "--json", "--db", str(db))
    assert code == 0
    assert json.loads(out)["totals"]["replies"] == 3
    code, out, _ = run(capsys, "prompts", "--json", "--db", "data/engagement.db")  # relative to the working dir
    assert code == 0
    assert sum(1 for item in json.loads(out) if item["last_posted"]) == 2
    assert not (workdir / "nothing-here.db").exists()


# -- forget ----------------------------------------------------------------------------------------------------------


def test_forget_refuses_a_member_never_seen(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line_error(capsys, "forget", "--member", "teams:29:never-seen", "--yes")
    assert line == "engagebot: teams:29:never-seen was never seen: nothing is stored about them"
    assert count(db, "erasures", "teams:29:never-seen") == 0
    assert count(db, "optouts", "teams:29:never-seen") == 0


def test_forget_ids_are_case_sensitive_and_the_right_case_is_suggested(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = one_line_error(capsys, "forget", "--member", "slack:u1", "--yes")
    assert line == (
        "engagebot: slack:u1 was never seen: nothing is stored about them; ids are case-sensitive: "
        "did you mean slack:U1?"
    )
    assert count(db, "replies", "slack:U1") == 1  # nothing erased
    assert count(db, "erasures", "slack:u1") == 0


@pytest.mark.parametrize("table", ["optouts", "consents"])
def test_a_member_known_only_by_an_optout_or_consent_was_seen(
    db: Path, capsys: pytest.CaptureFixture[str], table: str
) -> None:
    repo = Repository.open(db)
    at = datetime(2026, 11, 20, tzinfo=UTC)
    try:
        if table == "optouts":
            repo.opt_out("slack:UQUIET", at, requested_by="slack:UQUIET", reason="optout")
        else:
            repo.set_consent("slack:UQUIET", "quote", True, at)
    finally:
        repo.close()
    code, out, err = run(capsys, "forget", "--member", "slack:UQUIET", "--yes")
    assert code == 0, err
    assert out.startswith("erased slack:UQUIET: 0 replies, 0 reactions")
    assert count(db, "consents", "slack:UQUIET") == 0


def test_forget_without_a_terminal_needs_yes(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line_error(capsys, "forget", "--member", "slack:U2")
    assert line == (
        "engagebot: forget asks before erasing, and standard input is not a terminal: pass --yes to confirm"
    )
    assert (count(db, "replies", "slack:U2"), count(db, "erasures", "slack:U2")) == (1, 0)


def test_forget_asks_on_a_terminal(
    db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    code, out, err = run(capsys, "forget", "--member", "slack:U2")
    assert (code, out) == (1, "")
    assert err == (
        "Erase everything stored about slack:U2 (1 reply, 1 reaction, 0 dashboard sign-in links, 0 dashboard "
        "sessions) and stop capturing them? This cannot be undone. [y/N] engagebot: nothing erased\n"
    )
    assert (count(db, "replies", "slack:U2"), count(db, "optouts", "slack:U2")) == (1, 0)

    monkeypatch.setattr("sys.stdin", Terminal("yes\n"))
    code, out, err = run(capsys, "forget", "--member", "slack:U2")
    assert code == 0
    assert err.startswith("Erase everything stored about slack:U2 (1 reply, 1 reaction, 0 dashboard")
    assert out.startswith("erased slack:U2: 1 reply, 1 reaction, 0 dashboard sign-in links, 0 dashboard sessions;")
    assert (count(db, "replies", "slack:U2"), count(db, "optouts", "slack:U2")) == (0, 1)


# -- demo --db -------------------------------------------------------------------------------------------------------


def test_demo_never_replaces_a_database_it_did_not_make(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A database with no posts yet still holds opt-outs and the erasure audit: the demo must leave it alone."""
    real = workdir / "engagement.db"
    repo = Repository.open(real)
    try:
        repo.opt_out("slack:U1", datetime(2026, 11, 20, tzinfo=UTC), requested_by="slack:U1", reason="optout")
    finally:
        repo.close()
    notes = workdir / "notes.txt"
    notes.write_text("not a database\n", encoding="utf-8")
    for path in (real, notes):
        before = path.read_bytes()
        line = one_line_error(capsys, "demo", "--db", str(path), "--weeks", "1")
        assert line == (
            f"engagebot: {path} holds data that is not from the demo (the demo only replaces its own files): "
            "use another --db"
        )
        assert path.read_bytes() == before
    assert count(real, "optouts", "slack:U1") == 1


def test_demo_replaces_its_own_database(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    demo = workdir / "demo.db"
    for _ in range(2):
        code, out, _ = run(capsys, "demo", "--db", str(demo), "--weeks", "1")
        assert code == 0
        assert out.startswith("Engagement summary ")
    assert not (workdir / "engagebot.toml").exists()  # and no configuration file was needed


# -- teams-package ---------------------------------------------------------------------------------------------------


def test_teams_package_warns_about_example_urls(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = workdir / "app.zip"
    code, out, err = run(capsys, "teams-package", "--app-id", APP_ID, "--output", str(target))
    assert code == 0
    assert out.startswith(f"wrote {target}")
    assert err == (
        "engagebot: warning: without --privacy-url and --terms-url the package links "
        "https://example.org/engagebot instead: give your organisation's own pages before publishing the app\n"
    )
    with zipfile.ZipFile(target) as archive:
        developer = json.loads(archive.read("manifest.json"))["developer"]
    assert developer["privacyUrl"] == developer["termsOfUseUrl"] == "https://example.org/engagebot"

    privacy, terms = ("--privacy-url", "https://ipem.example/privacy"), ("--terms-url", "https://ipem.example/terms")
    for name, urls in (("app2.zip", privacy), ("app3.zip", privacy + terms)):
        code, _, err = run(capsys, "teams-package", "--app-id", APP_ID, "--output", str(workdir / name), *urls)
        assert code == 0
        if urls == privacy:
            assert err.startswith("engagebot: warning: without --terms-url the package links https://example.org/")
        else:
            assert err == ""
