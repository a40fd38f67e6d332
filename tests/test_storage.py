"""Storage (SPEC §10, §7 erasure): pragmas, migrations of an old file, committed writes, no text left behind."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlite_utils import Database

import app
from bot.capture import Capture
from bot.errors import StorageError
from bot.events import Platform, ReactionAdded, ReplyDeleted, ReplyEdited, ReplyPosted
from bot.prompts import Prompt, library_from_dict
from storage.repository import Repository
from storage.schema import migrations
from tests.privacy_support import file_bytes

SLACK = Platform.SLACK
T = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
POST = "1795000000.000100"
SECRET_TEXT = "ZEBRA-MARKER-7731 my private view on the workforce plan"
SECRET_NAME = "QUOKKA-NAME-4410"
OTHER_TEXT = "OTTER-MARKER-2208 someone else's view"


def other_connection(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path)


def reply_event(message: str, user: str, text: str, *, name: str | None = None, minutes: int = 1) -> ReplyPosted:
    return ReplyPosted(
        platform=SLACK,
        channel_id="C1",
        occurred_at=T + timedelta(minutes=minutes),
        event_key=f"Ev-{message}",
        thread_id=POST,
        message_id=message,
        user_id=user,
        text=text,
        display_name=name,
    )


def seed(repo: Repository) -> Capture:
    repo.record_post(SLACK, "C1", POST, Prompt("Workforce", "What would help?"), T)
    return Capture(repo)


# -- connection settings and schema ----------------------------------------------------------------------------------


def test_wal_foreign_keys_and_secure_delete_are_on(repo: Repository) -> None:
    pragma = {name: repo.db.execute(f"PRAGMA {name}").fetchone()[0] for name in ("journal_mode", "foreign_keys")}
    assert pragma == {"journal_mode": "wal", "foreign_keys": 1}
    assert repo.db.execute("PRAGMA secure_delete").fetchone()[0] == 1
    with other_connection(Path(repo.path)) as other:  # WAL is a property of the file, not only of our connection
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_foreign_keys_are_enforced(repo: Repository) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        repo.db.execute(
            """INSERT INTO replies (post_id, platform, channel_id, message_id, member_id, text, created_at)
               VALUES (999, 'slack', 'C1', 'm', 'slack:U1', 't', '2026')"""
        )


def test_tables_of_the_spec_exist_with_week_indexes(repo: Repository) -> None:
    tables = set(repo.db.table_names())
    for name in ("prompts", "posts", "replies", "reactions", "members", "optouts", "schedule_runs", "seen_events"):
        assert name in tables
    assert "conversation_refs" in tables
    for table, column in (("posts", "posted_at"), ("replies", "created_at"), ("reactions", "created_at")):
        plan = " ".join(
            str(row[-1])
            for row in repo.db.execute(
                f"EXPLAIN QUERY PLAN SELECT * FROM {table} WHERE {column} >= ? AND {column} < ?", ["a", "b"]
            ).fetchall()
        )
        assert "USING INDEX" in plan, plan
        assert "SCAN" not in plan.replace("SCAN USING", ""), plan


def test_migrations_bring_an_old_file_up_to_date_and_keep_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = Database(path)
    migrations.apply(old, stop_before="m002_scheduling_and_teams")
    assert [m.name for m in migrations.applied(old)] == ["m001_core"]
    old.execute(
        """INSERT INTO posts (id, platform, channel_id, message_id, theme, prompt, posted_at)
           VALUES (1, 'slack', 'C1', ?, 'Workforce', 'What would help?', '2026-11-24T10:00:00.000000+00:00')""",
        [POST],
    )
    old.execute(
        "INSERT INTO members (member_id, platform, user_id, display_name) VALUES ('slack:U1', 'slack', 'U1', 'A')"
    )
    old.execute(
        """INSERT INTO replies (post_id, platform, channel_id, message_id, member_id, text, created_at)
           VALUES (1, 'slack', 'C1', '200.1', 'slack:U1', 'kept', '2026-11-24T10:05:00.000000+00:00')"""
    )
    old.conn.commit()
    old.close()
    assert "schedule_runs" not in Database(path).table_names()

    repo = Repository.open(path)
    try:
        assert migrations.pending(repo.db) == []
        applied = [m.name for m in migrations.applied(repo.db)]
        assert applied[:3] == ["m001_core", "m002_scheduling_and_teams", "m003_erasure_audit"]
        assert repo.schema_version() == len(applied)
        assert repo.db.execute("PRAGMA user_version").fetchone()[0] == len(applied)
        assert {"schedule_runs", "conversation_refs", "erasures"} <= set(repo.db.table_names())
        assert repo.db.execute("SELECT message_id, text FROM replies").fetchall() == [("200.1", "kept")]
        post = repo.find_post(SLACK, "C1", POST)
        assert post is not None
        assert post.posted_at == T
    finally:
        repo.close()
    again = Repository.open(path)  # opening an up-to-date file changes nothing
    try:
        assert again.schema_version() == len(applied)
        assert again.db.execute("SELECT count(*) FROM replies").fetchone()[0] == 1
    finally:
        again.close()


def test_a_file_that_is_not_a_database_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match="cannot open database"):
        Repository.open(path)


def test_a_read_only_connection_reads_and_never_creates_migrates_or_writes(repo: Repository, tmp_path: Path) -> None:
    capture = seed(repo)
    capture.apply(reply_event("200.1", "U1", "kept"))
    with repo.reader() as reader:
        assert reader is not None
        assert [r.text for r in reader.replies_between(T, T + timedelta(days=1))] == ["kept"]
        before = file_bytes(Path(repo.path))
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.set_consent("slack:U1", "quote", True, T)
        assert file_bytes(Path(repo.path)) == before
    capture.apply(reply_event("200.2", "U2", "still written"))  # the writer is not held up by the reader
    assert repo.db.execute("SELECT count(*) FROM replies").fetchone()[0] == 2

    missing = tmp_path / "missing.db"
    with pytest.raises(StorageError, match="cannot"):
        Repository.open_readonly(missing)
    assert not missing.exists()
    old = tmp_path / "old.db"
    migrations.apply(Database(old), stop_before="m002_scheduling_and_teams")
    size = old.stat().st_size
    with pytest.raises(StorageError, match="not migrated"):
        Repository.open_readonly(old)
    assert [m.name for m in migrations.applied(Database(old))] == ["m001_core"]
    assert old.stat().st_size == size
    memory = Repository.open(":memory:")
    try:
        with memory.reader() as none:
            assert none is None  # an in-memory database has no second connection
    finally:
        memory.close()


def test_cli_on_a_bad_database_file_exits_2(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "junk.db").write_bytes(b"this is not sqlite" * 100)
    monkeypatch.setenv("ENGAGEBOT_DB", str(workdir / "junk.db"))
    assert app.main(["summary", "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("engagebot: cannot open database")
    assert "Traceback" not in err


# -- durability ----------------------------------------------------------------------------------------------------


def test_every_write_is_committed_when_the_call_returns(repo: Repository) -> None:
    path = Path(repo.path)
    repo.sync_prompts(library_from_dict({"themes": [{"name": "Workforce", "prompts": ["What would help?"]}]}))
    with other_connection(path) as other:
        assert other.execute("SELECT count(*) FROM prompts").fetchone()[0] == 1
    capture = seed(repo)
    with other_connection(path) as other:
        assert other.execute("SELECT message_id, prompt_id IS NOT NULL FROM posts").fetchall() == [(POST, 1)]
    capture.apply(reply_event("200.1", "U1", "hello"))
    capture.apply(
        ReactionAdded(
            platform=SLACK, channel_id="C1", occurred_at=T, event_key="r1", target_id=POST, user_id="U2", name="+1"
        )
    )
    with other_connection(path) as other:
        assert other.execute("SELECT text FROM replies").fetchall() == [("hello",)]
        assert other.execute("SELECT name FROM reactions").fetchall() == [("+1",)]
        assert other.execute("SELECT count(*) FROM seen_events").fetchone()[0] == 2
    repo.opt_out("slack:U1", T, requested_by="slack:U1", reason="optout")
    with other_connection(path) as other:
        assert other.execute("SELECT count(*) FROM replies").fetchone()[0] == 0
        assert other.execute("SELECT member_id FROM optouts").fetchall() == [("slack:U1",)]
    repo.opt_in("slack:U1", T)
    with other_connection(path) as other:
        assert other.execute("SELECT count(*) FROM optouts").fetchone()[0] == 0


def test_a_failed_transaction_leaves_nothing(repo: Repository) -> None:
    def failing_write() -> None:
        with repo.transaction():
            repo.db.execute("INSERT INTO optouts (member_id, opted_out_at) VALUES ('slack:U9', 'x')")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        failing_write()
    assert repo.db.execute("SELECT count(*) FROM optouts").fetchone()[0] == 0
    with repo.transaction():  # and the connection is usable afterwards
        repo.db.execute("INSERT INTO optouts (member_id, opted_out_at) VALUES ('slack:U9', 'x')")
    assert repo.is_opted_out("slack:U9")


# -- erasure: no text left behind -------------------------------------------------------------------------------------


def test_forget_leaves_no_text_in_the_database_files(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = workdir / "data" / "e.db"
    repo = Repository.open(path)
    capture = seed(repo)
    capture.apply(reply_event("200.1", "U1", SECRET_TEXT, name=SECRET_NAME))
    capture.apply(reply_event("200.2", "U1", SECRET_TEXT + " (again)", minutes=2))
    capture.apply(reply_event("200.3", "U2", OTHER_TEXT, minutes=3))
    capture.apply(
        ReactionAdded(
            platform=SLACK, channel_id="C1", occurred_at=T, event_key="r1", target_id="200.3", user_id="U1", name="+1"
        )
    )
    repo.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # as a running server would, sooner or later
    assert SECRET_TEXT.encode() in file_bytes(path)  # the scan finds text that is there
    assert SECRET_NAME.encode() in file_bytes(path)
    repo.close()

    monkeypatch.setenv("ENGAGEBOT_DB", str(path))
    assert app.main(["forget", "--member", "slack:U1", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "erased slack:U1: 2 replies, 1 reaction" in out

    data = file_bytes(path)
    assert SECRET_TEXT.encode() not in data
    assert b"ZEBRA-MARKER" not in data
    assert SECRET_NAME.encode() not in data
    assert OTHER_TEXT.encode() in data  # other members' replies stay
    with other_connection(path) as other:
        assert other.execute("SELECT member_id FROM replies").fetchall() == [("slack:U2",)]
        assert other.execute("SELECT count(*) FROM reactions").fetchone()[0] == 0
        assert other.execute("SELECT member_id FROM optouts").fetchall() == [("slack:U1",)]


def test_forget_while_another_connection_is_open_still_scrubs(repo: Repository) -> None:
    path = Path(repo.path)
    capture = seed(repo)
    capture.apply(reply_event("200.1", "U1", SECRET_TEXT, name=SECRET_NAME))
    repo.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    reader = other_connection(path)  # e.g. `engagebot summary` running next to `serve`
    try:
        reader.execute("SELECT count(*) FROM replies").fetchone()
        repo.opt_out("slack:U1", T, requested_by="cli", reason="forget")
        data = file_bytes(path)
        assert b"ZEBRA-MARKER" not in data
        assert SECRET_NAME.encode() not in data
    finally:
        reader.close()


def test_an_edit_leaves_no_trace_of_the_old_text(repo: Repository) -> None:
    path = Path(repo.path)
    capture = seed(repo)
    capture.apply(reply_event("200.1", "U1", SECRET_TEXT))
    repo.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert b"ZEBRA-MARKER" in file_bytes(path)
    edit = ReplyEdited(
        platform=SLACK, channel_id="C1", occurred_at=T + timedelta(minutes=5), message_id="200.1", text="rewritten"
    )
    capture.apply(edit)
    data = file_bytes(path)
    assert b"ZEBRA-MARKER" not in data
    assert b"rewritten" in data


def test_a_deleted_reply_leaves_no_text(repo: Repository) -> None:
    path = Path(repo.path)
    capture = seed(repo)
    capture.apply(reply_event("200.1", "U1", SECRET_TEXT))
    repo.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    capture.apply(
        ReplyDeleted(platform=SLACK, channel_id="C1", occurred_at=T + timedelta(minutes=5), message_id="200.1")
    )
    assert b"ZEBRA-MARKER" not in file_bytes(path)
    assert repo.db.execute("SELECT count(*) FROM replies").fetchone()[0] == 0
