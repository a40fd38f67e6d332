"""`engagebot demo` runs through the real adapters, and its summary counts exactly what it simulated."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.demo.run import simulate
from app import main
from bot.config import load_settings
from bot.demo import corpus
from bot.events import Platform
from bot.timeutil import IsoWeek
from tests.report_community import wordings

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


async def test_demo_summary_matches_what_it_simulated(tmp_path):
    settings = load_settings({}, cwd=tmp_path)
    db = tmp_path / "demo.db"
    runtime, last_week, totals = await simulate(settings, db, weeks=3, seed=7, now=NOW)
    try:
        tz = settings.timezone
        for week in (last_week, last_week.previous()):
            start, end = week.bounds(tz)
            summary = runtime.engagement.summary(week).as_json()
            expected = [e for e in totals.expected if start <= e.at < end]
            replies = [e for e in expected if e.reaction is None]
            reactions = [e for e in expected if e.reaction is not None]
            assert summary["totals"]["replies"] == len(replies)
            assert summary["totals"]["reactions"] == len(reactions)
            assert summary["totals"]["participants"] == len({e.member_id for e in expected})
            # Each week the scheduler posts to two Slack channels and one Teams channel on Tuesday 10:00.
            assert summary["totals"]["posts"] == 3
            for platform in Platform:
                figures = summary["by_platform"][platform.value]
                assert figures["posts"] == (2 if platform is Platform.SLACK else 1)
                assert figures["replies"] == sum(1 for e in replies if e.platform is platform)
                assert figures["reactions"] == sum(1 for e in reactions if e.platform is platform)
        assert last_week == IsoWeek(2026, 47)
        assert totals.slack_events > 50
        assert totals.teams_activities > 20
        runs = runtime.repo.schedule_runs()
        done = [r for r in runs if r["status"] == "done"]
        assert len([r for r in done if r["kind"] == "prompt"]) == 3 * 3  # three weeks, three channels
        assert len([r for r in done if r["kind"] == "summary"]) == 3
        # Only the slots from before the simulation began are skipped (more than six hours late at its start).
        assert {r["slot"] < "2026-11-02" for r in runs if r["status"] == "skipped"} == {True}
    finally:
        runtime.close()


async def test_the_same_seed_gives_the_same_figures(tmp_path):
    settings = load_settings({}, cwd=tmp_path)
    figures = []
    for name in ("a.db", "b.db"):
        runtime, week, _ = await simulate(settings, tmp_path / name, weeks=2, seed=11, now=NOW)
        summary = runtime.engagement.summary(week).as_json()
        runtime.close()
        figures.append((summary["totals"], summary["by_theme"], summary["top_reactions"]))
    assert figures[0] == figures[1]


def test_demo_refuses_to_overwrite_a_database_with_real_data(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ENGAGEBOT_DB", str(tmp_path / "real.db"))
    assert main(["post", "--platform", "slack", "--channel", "CREAL", "--dry-run"]) == 2  # Slack not configured
    from storage.repository import Repository

    repo = Repository.open(tmp_path / "real.db")
    repo.db.execute(
        "INSERT INTO posts (platform, channel_id, message_id, theme, prompt, posted_at) "
        "VALUES ('slack', 'CREAL', '1.0', 'Workforce', 'p', '2026-11-24T10:00:00.000000+00:00')"
    )
    repo.close()
    capsys.readouterr()
    assert main(["demo", "--db", str(tmp_path / "real.db"), "--weeks", "1"]) == 2
    assert "not from the demo" in capsys.readouterr().err
    assert (tmp_path / "real.db").exists()


async def test_members_consent_to_quotes_by_command_on_both_platforms_and_by_the_emoji(tmp_path):
    settings = load_settings({}, cwd=tmp_path)
    runtime, _, totals = await simulate(settings, tmp_path / "demo.db", weeks=2, seed=5, now=NOW)
    try:
        repo = runtime.repo
        consents = {m for (m,) in repo.db.execute("SELECT member_id FROM consents WHERE kind = 'quote'").fetchall()}
        emoji = repo.db.execute(
            "SELECT DISTINCT member_id FROM reactions WHERE name = 'speech_balloon' AND post_id IS NOT NULL"
        ).fetchall()
        assert emoji
        assert all(m.startswith("slack:") for (m,) in emoji)
        assert {m for (m,) in emoji} <= consents  # the quote emoji is recorded as the member's consent
        by_command = consents - {m for (m,) in emoji}  # each member consents one way
        assert {m.partition(":")[0] for m in by_command} == {"slack", "teams"}  # `/engage quote ok` and `quote ok`
        expected = {e.member_id for e in totals.expected if e.reaction == "speech_balloon"}
        assert expected == {m for (m,) in emoji}  # counted like any reaction, and the demo expects them
        names = dict(((p, c), n) for p, c, n in repo.db.execute("SELECT platform, channel_id, name FROM channels"))
        assert names[("slack", "C0DEMOPROMPTS")] == "nhs-10-year-plan"
        assert names[("teams", "19:demo-healthcare-science@thread.tacv2")] == "Healthcare science"
        # Replies speak to their prompt's theme (theme=post.theme reaches the planner).
        themes = {p.id: p.theme for p in repo.posts_between(*IsoWeek(2026, 47).bounds(settings.timezone))}
        replies = repo.replies_between(*IsoWeek(2026, 47).bounds(settings.timezone))
        spoken = [r for r in replies if r.text not in corpus().endorsements]  # the "+1"s say nothing
        assert len(spoken) >= 10
        for reply in spoken:
            points = [wordings(p) for kind in corpus().themes[themes[reply.post_id]].values() for p in kind]
            assert any(p.search(reply.text) for p in points), (themes[reply.post_id], reply.text)
    finally:
        runtime.close()


def test_demo_ends_by_writing_its_report_and_printing_its_path(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "data" / "demo.db"
    report = tmp_path / "data" / "demo-report.html"
    report.parent.mkdir()
    report.write_text("my notes", encoding="utf-8")
    assert main(["demo", "--db", str(db), "--weeks", "2"]) == 2  # not a report the demo wrote
    assert "not a report the demo wrote" in capsys.readouterr().err
    assert report.read_text(encoding="utf-8") == "my notes"
    assert not db.exists()

    report.unlink()
    assert main(["demo", "--db", str(db), "--weeks", "4"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().splitlines()[-1] == str(report)
    assert f"engagebot report --db {db}" in out
    html = report.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "4 weeks (" in html
    assert "<blockquote>" in html  # members agreed to be quoted
    assert "#nhs-10-year-plan" in html
    assert main(["demo", "--db", str(db), "--weeks", "2"]) == 0  # its own report is replaced
