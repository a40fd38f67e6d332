"""`engagebot serve` with Slack as a real process, against the fake Slack API answering, refusing or hanging:
a refused token stops it with exit code 2 and one line; an unreachable Slack never holds up the server or SIGTERM."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fakes import FakeSlackAPI
from tests.serving import Serve
from tests.waiting import eventually

SOCKET_MODE = {"SLACK_APP_TOKEN": "xapp-1-process", "SLACK_SIGNING_SECRET": ""}
BOLT_TOKEN_WARNING = "will be unused"


@dataclass
class Processes:
    """The fake Slack API, and the `engagebot serve` processes a test starts against it (killed at its end)."""

    fake: FakeSlackAPI
    api_url: str
    tmp_path: Path
    started: list[Serve] = field(default_factory=list)

    def serve(self, *, socket_mode: bool = True) -> Serve:
        serve = Serve(self.tmp_path, self.api_url, **(SOCKET_MODE if socket_mode else {}))
        self.started.append(serve)
        serve.start()
        return serve


@pytest.fixture
async def slack(tmp_path: Path) -> AsyncIterator[Processes]:
    fake = FakeSlackAPI()
    async with fake.serve() as server:
        processes = Processes(fake, str(server.make_url("/api/")), tmp_path)
        try:
            yield processes
        finally:
            for serve in processes.started:  # before the fake stops answering
                serve.stop()


def error_lines(serve: Serve) -> list[str]:
    """What `engagebot` itself printed (log lines start with a timestamp)."""
    return [line for line in serve.log().splitlines() if line.startswith("engagebot:")]


@pytest.mark.parametrize(
    ("method", "variable", "fix"),
    [
        ("auth.test", "SLACK_BOT_TOKEN", "OAuth & Permissions"),
        ("apps.connections.open", "SLACK_APP_TOKEN", "connections:write"),
    ],
)
async def test_a_revoked_token_stops_serve_before_it_listens(
    slack: Processes, method: str, variable: str, fix: str
) -> None:
    fake = slack.fake
    fake.fail_next(method, error="invalid_auth")
    serve = slack.serve()
    assert await serve.wait() == 2
    [line] = error_lines(serve)
    assert line.startswith(f"engagebot: {variable}: Slack refused this token (invalid_auth): "), line
    assert fix in line
    log = serve.log()
    assert "Traceback" not in log
    assert "listening" not in log  # it never served, and never started the scheduler
    assert fake.calls_to("chat.postMessage") == []
    assert fake.sockets == 0


async def test_unreachable_slack_serves_at_once_and_connects_in_the_background(slack: Processes) -> None:
    fake = slack.fake
    fake.refuse.add("*")  # every call's connection is dropped, as when Slack cannot be reached
    serve = slack.serve()
    await serve.wait_healthy()
    status, body = await serve.health()
    assert status == 200
    assert body["status"] == "ok"
    assert body["slack"] == {"enabled": True, "mode": "socket", "connected": False}
    await eventually(lambda: "slack socket mode connect failed attempt=1 error=" in serve.log())
    assert "retry_in=1s" in serve.log()

    fake.refuse.clear()  # Slack is back: a later attempt connects
    await eventually(lambda: fake.sockets == 1)
    await eventually(lambda: "slack socket mode connected" in serve.log())
    status, body = await serve.health()
    assert (status, body["slack"]) == (200, {"enabled": True, "mode": "socket", "connected": True})
    [opened, *_] = [call for call in fake.calls_to("apps.connections.open") if call["auth"]]
    assert opened["auth"] == "Bearer xapp-1-process"

    serve.signal(signal.SIGTERM)
    assert await serve.wait() == 0
    assert "stopped; database closed" in serve.log()
    assert "Traceback" not in serve.log()


async def test_a_token_refused_once_slack_is_reachable_stops_serve(slack: Processes) -> None:
    fake = slack.fake
    fake.refuse.add("*")
    serve = slack.serve()
    await serve.wait_healthy()
    await eventually(lambda: "slack socket mode connect failed attempt=1 error=" in serve.log())
    fake.fail_next("auth.test", error="token_revoked")  # Slack is back, and the token was revoked meanwhile
    fake.refuse.clear()
    assert await serve.wait() == 2
    [line] = error_lines(serve)
    assert line.startswith("engagebot: SLACK_BOT_TOKEN: Slack refused this token (token_revoked): "), line
    assert "stopped; database closed" in serve.log()
    assert "Traceback" not in serve.log()
    assert fake.sockets == 0


async def test_sigterm_stops_serve_while_slack_hangs(slack: Processes) -> None:
    fake = slack.fake
    fake.hang.add("apps.connections.open")  # accepted, never answered
    serve = slack.serve()
    await serve.wait_healthy()  # the start waits a few seconds at most for Slack
    status, body = await serve.health()
    assert (status, body["slack"]) == (200, {"enabled": True, "mode": "socket", "connected": False})
    await eventually(lambda: len(fake.calls_to("apps.connections.open")) == 2)  # the background attempt hangs too
    serve.signal(signal.SIGTERM)
    assert await serve.wait() == 0  # Serve.wait gives up after 30 s
    assert "stopped; database closed" in serve.log()
    assert error_lines(serve) == []


@pytest.mark.long  # waits out the start's bounded check of the tokens (5 s)
async def test_sigterm_during_the_start_check_stops_serve(slack: Processes) -> None:
    fake = slack.fake
    fake.hang.add("auth.test")
    serve = slack.serve()
    await eventually(lambda: len(fake.calls_to("auth.test")) == 1)  # serve is waiting for Slack, not yet listening
    serve.signal(signal.SIGTERM)
    assert await serve.wait() == 0
    assert "stopped; database closed" in serve.log()
    assert fake.calls_to("chat.postMessage") == []


@pytest.mark.parametrize("mode", ["http", "socket"])
async def test_start_prints_no_warning_about_an_unused_token(slack: Processes, mode: str) -> None:
    serve = slack.serve(socket_mode=mode == "socket")  # SLACK_BOT_TOKEN is in its environment
    await serve.wait_healthy()
    serve.signal(signal.SIGTERM)
    assert await serve.wait() == 0
    log = serve.log()
    assert "listening" in log
    assert BOLT_TOKEN_WARNING not in log
    assert "level=WARNING" not in log
