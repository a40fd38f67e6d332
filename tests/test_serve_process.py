"""`engagebot serve` as a real process: exactly one post per slot across SIGKILL and restart; clean SIGTERM; a port in
use stops it before anything starts."""

from __future__ import annotations

import signal
import socket
import sqlite3
from collections.abc import AsyncIterator

import pytest

from tests.fakes import FakeSlackAPI
from tests.serving import Serve
from tests.waiting import eventually

CONFIG = """
[schedule]
prompts = "* * * * *"
summary = "0 9 1 1 *"
[[channels]]
platform = "slack"
id = "CPROC"
"""


async def stop(serve: Serve, sig: int = signal.SIGKILL) -> int:
    serve.signal(sig)
    return await serve.wait()


def slot_runs(serve: Serve) -> list[tuple[str, str]]:
    with sqlite3.connect(serve.db) as conn:
        return conn.execute("SELECT slot, status FROM schedule_runs WHERE kind = 'prompt' ORDER BY slot").fetchall()


@pytest.fixture
async def slack_fake() -> AsyncIterator[tuple[FakeSlackAPI, str]]:
    fake = FakeSlackAPI()
    async with fake.serve() as server:
        yield fake, str(server.make_url("/api/"))


def posts(fake: FakeSlackAPI) -> list[str]:
    return [c["args"]["channel"] for c in fake.calls_to("chat.postMessage")]


async def test_one_post_per_slot_across_sigkill_and_restart(tmp_path, slack_fake):
    fake, url = slack_fake
    serve = Serve(tmp_path, url, CONFIG)
    serve.installed()
    serve.start()
    await serve.wait_healthy()
    # On start, the current minute's slot is less than six hours late: it is posted once.
    await eventually(lambda: len(posts(fake)) >= 1)
    assert await stop(serve) == -signal.SIGKILL
    serve.start()
    await serve.wait_healthy()
    await serve.scheduler_ticked()  # the restarted scheduler has looked at the slot
    assert await stop(serve, signal.SIGTERM) == 0
    runs = slot_runs(serve)
    # The kill may land between a post and its record: that slot stays claimed (in doubt), never posted again.
    assert {status for _, status in runs} <= {"done", "claimed"}
    assert len(posts(fake)) == len(runs)  # one post per slot; a restart within a slot posts nothing more
    assert runs  # the slot of the first start (and one more per minute boundary the test crossed, however slow)


async def test_a_kill_during_the_post_never_leads_to_a_second_post(tmp_path, slack_fake):
    fake, url = slack_fake
    fake.hang.add("chat.postMessage")  # the post is in flight, never answered, when the process dies
    serve = Serve(tmp_path, url, CONFIG)
    serve.installed()
    serve.start()
    await serve.wait_healthy()
    await eventually(lambda: len(posts(fake)) >= 1)
    await stop(serve)
    first_slot = slot_runs(serve)[0]
    assert first_slot[1] == "claimed"  # claimed, never recorded
    fake.hang.clear()
    serve.start()
    await serve.wait_healthy()
    await serve.scheduler_ticked()
    await stop(serve, signal.SIGTERM)
    runs = dict(slot_runs(serve))
    assert runs[first_slot[0]] == "claimed"  # in doubt: not posted again
    later = [slot for slot in runs if slot != first_slot[0]]
    assert len(posts(fake)) == 1 + len(later)


async def test_sigterm_stops_cleanly_with_the_database_intact(tmp_path, slack_fake):
    _, url = slack_fake
    serve = Serve(tmp_path, url, CONFIG)
    serve.installed()
    serve.start()
    await serve.wait_healthy()
    assert await stop(serve, signal.SIGTERM) == 0
    assert "stopped; database closed" in serve.log()
    with sqlite3.connect(tmp_path / "engagement.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


async def test_a_port_in_use_is_one_error_line_and_exit_2_before_anything_starts(tmp_path, slack_fake):
    fake, url = slack_fake
    serve = Serve(tmp_path, url, CONFIG)  # a slot every minute: any scheduler that started would claim it
    serve.installed()
    with socket.socket() as held:
        held.bind(("127.0.0.1", serve.port))
        held.listen()
        serve.start()
        code = await serve.wait()
    assert code == 2
    assert serve.log().splitlines() == [
        f"engagebot: PORT: cannot listen on 127.0.0.1:{serve.port}: Address already in use "
        "(is engagebot already running? or choose a free PORT)"
    ]
    with sqlite3.connect(serve.db) as conn:
        assert conn.execute("SELECT count(*) FROM schedule_runs").fetchone() == (0,)
    assert fake.calls == []  # nothing posted, not even a call to Slack
