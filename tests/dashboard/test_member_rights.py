"""Members' data rights reach the dashboard's tables: an admin's sign-in links and sessions are in their copy of their
data (`mydata`, `engagebot export --member`), and go with their erasure (`optout`, `engagebot forget`), which ends their
sessions at once. Both through the real paths: a signed `/engage` command and the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_support import run
from tests.dashboard.site import SESSION, SLACK_ADMIN, TEAMS_ADMIN, Site
from tests.privacy_support import file_bytes

SLACK_MEMBER, TEAMS_MEMBER = f"slack:{SLACK_ADMIN}", f"teams:{TEAMS_ADMIN}"


def secrets_of(site: Site, member: str) -> list[str]:
    """The stored hashes of a member's sign-in links and sessions."""
    return [
        row[0]
        for row in site.rows(
            f"SELECT token_hash FROM dashboard_tokens WHERE member_id = '{member}'"
            f" UNION ALL SELECT session_hash FROM dashboard_sessions WHERE member_id = '{member}'"
        )
    ]


def signed_in(site: Site) -> list[tuple[str, str]]:
    return site.rows(
        "SELECT 'link', member_id FROM dashboard_tokens UNION ALL SELECT 'session', member_id FROM dashboard_sessions"
        " ORDER BY 1, 2"
    )


async def status(site: Site, session: str) -> int:
    return (await site.get("/dashboard/", cookies={SESSION: session})).status


async def test_mydata_lists_an_admins_sign_ins_and_optout_erases_them_ending_the_session(empty: Site) -> None:
    site = empty
    mine = await site.sign_in(await site.link("slack"))
    await site.link("slack")  # a second link, never opened
    theirs = await site.sign_in(await site.link("teams"))
    my_hashes, their_hashes = secrets_of(site, SLACK_MEMBER), secrets_of(site, TEAMS_MEMBER)
    assert (len(my_hashes), len(their_hashes)) == (3, 2)

    await site.slack_command("mydata", SLACK_ADMIN)
    [upload] = site.fake.uploads.values()
    assert upload.data is not None
    data = json.loads(upload.data)
    assert data["member_id"] == SLACK_MEMBER
    assert [link["used_at"] is not None for link in data["dashboard_links"]] == [True, False]
    [session] = data["dashboard_sessions"]
    assert (session["ended_at"], session["ended_by"]) == (None, None)
    assert session["id"] == site.rows(f"SELECT id FROM dashboard_sessions WHERE member_id = '{SLACK_MEMBER}'")[0][0]
    for secret in [*my_hashes, *their_hashes, mine, theirs, TEAMS_ADMIN]:  # no secret, nobody else
        assert secret.encode() not in upload.data, secret
    # The reply counts what the file holds, the sign-in links and session too (as optout's reply does).
    assert upload.initial_comment is not None
    assert (
        "Everything engagebot stores about you: 0 replies, 0 reactions, 2 dashboard sign-in links, "
        "1 dashboard session and your member record."
    ) in upload.initial_comment

    assert await status(site, mine) == 200
    ack = await site.slack_command("optout", SLACK_ADMIN)
    # The two links (one used) and the session are counted, as replies and reactions are.
    assert "Erased 0 replies, 0 reactions, 2 dashboard sign-in links and 1 dashboard session. Use" in ack["text"]
    assert signed_in(site) == [("link", TEAMS_MEMBER), ("session", TEAMS_MEMBER)]
    assert await status(site, mine) == 401  # ended at once
    assert await status(site, theirs) == 200
    on_disk = file_bytes(site.tmp_path / "dashboard.db")
    assert all(h.encode() in on_disk for h in their_hashes)  # the scan finds what is there
    for gone in my_hashes:
        assert gone.encode() not in on_disk, gone


@pytest.fixture
def cli(empty: Site, monkeypatch: pytest.MonkeyPatch) -> Site:
    monkeypatch.setenv("ENGAGEBOT_CONFIG", str(empty.tmp_path / "engagebot.toml"))
    monkeypatch.setenv("ENGAGEBOT_DB", str(empty.tmp_path / "dashboard.db"))
    return empty


async def test_export_member_and_forget_cover_an_admin_seen_only_in_the_dashboard(
    cli: Site, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    site = cli
    mine = await site.sign_in(await site.link("teams"))
    theirs = await site.sign_in(await site.link("slack"))
    my_hashes, their_hashes = secrets_of(site, TEAMS_MEMBER), secrets_of(site, SLACK_MEMBER)

    copy = tmp_path / "subject-access.json"
    code, _, err = run(capsys, "export", "--member", TEAMS_MEMBER, "--output", str(copy))
    assert code == 0, err
    raw = copy.read_bytes()
    data = json.loads(raw)
    assert (data["member_id"], data["member"], data["replies"]) == (TEAMS_MEMBER, None, [])
    assert [link["used_at"] is not None for link in data["dashboard_links"]] == [True]
    assert [s["ended_at"] for s in data["dashboard_sessions"]] == [None]
    for secret in [*my_hashes, *their_hashes, mine, theirs, SLACK_ADMIN]:
        assert secret.encode() not in raw, secret

    code, out, err = run(capsys, "forget", "--member", TEAMS_MEMBER, "--yes")
    assert code == 0, err  # a member with nothing but sign-ins was seen: they are forgotten, not refused
    assert out.startswith(
        f"erased {TEAMS_MEMBER}: 0 replies, 0 reactions, 1 dashboard sign-in link, 1 dashboard session; capture stopped"
    )
    assert signed_in(site) == [("link", SLACK_MEMBER), ("session", SLACK_MEMBER)]
    assert await status(site, mine) == 401
    assert await status(site, theirs) == 200
    on_disk = file_bytes(site.tmp_path / "dashboard.db")
    assert all(h.encode() in on_disk for h in their_hashes)
    for gone in my_hashes:
        assert gone.encode() not in on_disk, gone
