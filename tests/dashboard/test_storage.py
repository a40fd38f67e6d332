"""The sign-in records in SQLite: a link redeemed by two connections at once (two processes, or serve and a second
worker) gives exactly one session; what is stored is hashes and member ids, never a secret."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from bot.dashboard.signin import SESSION_TTL, TOKEN_TTL, SignIn, digest
from bot.timeutil import utc_now
from storage.repository import Repository


def redeem_together(repos: list[Repository], token_hash: str, sessions: list[str]) -> list[object]:
    """Each connection redeems the token in its own thread, released at the same moment."""
    barrier = threading.Barrier(len(repos))
    results: list[object] = []
    now = utc_now()

    def redeem(repo: Repository, session_hash: str) -> None:
        barrier.wait()
        results.append(repo.start_dashboard_session(token_hash, session_hash, now, now + SESSION_TTL))

    threads = [threading.Thread(target=redeem, args=pair) for pair in zip(repos, sessions, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_connections_redeeming_one_link_at_once_give_one_session(tmp_path: Path):
    path = tmp_path / "e.db"
    Repository.open(path).close()
    now = utc_now()
    for attempt in range(5):
        repos = [Repository.open(path, migrate=False) for _ in range(2)]
        token_hash = digest(f"token-{attempt}")
        repos[0].save_dashboard_token(token_hash, "slack:U1", now, now + TOKEN_TTL)
        results = redeem_together(repos, token_hash, [digest(f"s{attempt}-{n}") for n in range(2)])
        for repo in repos:
            repo.close()
        assert sum(result is not None for result in results) == 1
    repo = Repository.open(path)
    try:
        assert len(repo.dashboard_sessions()) == 5
    finally:
        repo.close()


def test_a_link_cannot_be_redeemed_after_it_expires_even_by_storage(repo: Repository):
    now = utc_now()
    repo.save_dashboard_token(digest("t"), "slack:U1", now - TOKEN_TTL, now)
    assert repo.start_dashboard_session(digest("t"), digest("s"), now, now + SESSION_TTL) is None
    assert repo.dashboard_sessions() == []


def test_only_hashes_are_stored_and_old_records_are_purged(repo: Repository, tmp_path: Path):
    signin = SignIn(repo, lambda member: True, "https://engagebot.example.org")
    link = signin.issue("slack:U1")
    token = link.url.rsplit("/", 1)[1]
    started = signin.redeem(token)
    repo.scrub()
    data = b"".join(p.read_bytes() for p in tmp_path.glob("t.db*"))
    assert token.encode() not in data
    assert started.secret.encode() not in data
    assert digest(token).encode() in data
    assert digest(started.secret).encode() in data

    later = utc_now() + timedelta(days=2)
    signin.clock = lambda: later
    signin.issue("slack:U1")  # issuing purges tokens expired for more than a day
    assert [r[0] for r in repo.db.execute("SELECT token_hash FROM dashboard_tokens")] != [digest(token)]
    assert repo.dashboard_token(digest(token)) is None
