"""Log hygiene (SPEC §11): no token, secret or message text reaches any log record, and every Slack request or event
logs one structured line (``key=value`` pairs) with its outcome: at INFO for every request but a captured event,
whose line is at DEBUG, and which is counted in the INFO line of the minute (``slack events seconds=… stored=…``)."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import app as engagebot_app
from adapters.reconcile import reconciler_for
from adapters.runtime import Runtime
from bot.config import load_settings
from bot.model import PostRecord
from tests.fakes import (
    FakeSlackAPI,
    sign_slack,
    slack_command_body,
    slack_event_body,
    slack_message,
    slack_message_changed,
    slack_message_deleted,
    slack_reaction_added,
    slack_thread_reply,
    slack_url_verification_body,
)

TOKEN = "xoxb-DISTINCT-TOKEN-4f1e2d3c"
SECRET = "DISTINCT-SIGNING-SECRET-9a8b7c"
APP_TOKEN_FREE = "DISTINCT-CHALLENGE-5e6f"
CHANNEL = "C0LOG"
ADMIN = "UADMINLOG"
TEXTS = (
    "DISTINCTIVE-REPLY-TEXT-☃-0001",
    "DISTINCTIVE-EDITED-TEXT-0002",
    "DISTINCTIVE-TOPLEVEL-TEXT-0003",
    "distinctive-command-words-0004",
    "DISTINCTIVE-RECONCILED-TEXT-0005",
    "DISTINCTIVE-MALFORMED-TEXT-0006",
    "DISTINCTIVE-UNSIGNED-TEXT-0007",
)
SECRETS = (TOKEN, SECRET, APP_TOKEN_FREE)
STRUCTURED = re.compile(r"^[a-z][a-z .;_-]*?( [a-z_]+=\S*)+$")


class Collect(logging.Handler):
    def __init__(self, formatter: logging.Formatter | None) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []
        if formatter is not None:
            self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


@pytest.fixture
def logs() -> Iterator[Collect]:
    """engagebot's own logging set-up at INFO, plus a handler that keeps every formatted record."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    noisy = ("slack_bolt", "slack_sdk", "botbuilder", "botframework", "msrest", "msal", "urllib3", "aiohttp.access")
    saved_levels = {name: logging.getLogger(name).level for name in noisy}
    engagebot_app.configure_logging("INFO")
    handler = Collect(root.handlers[0].formatter if root.handlers else None)
    handler.setLevel(logging.DEBUG)
    root.addHandler(handler)
    saved_levels["adapters.slack"] = logging.getLogger("adapters.slack").level
    logging.getLogger("adapters.slack").setLevel(logging.DEBUG)  # the per-event lines, which are at DEBUG
    try:
        yield handler
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)


@dataclass
class Rig:
    fake: FakeSlackAPI
    api: TestServer
    runtime: Runtime
    client: TestClient[web.Request, web.Application]
    post: PostRecord

    async def send(self, body: str, *, form: bool = False, signed: bool = True) -> int:
        headers = {"Content-Type": "application/x-www-form-urlencoded" if form else "application/json"}
        if signed:
            headers.update(sign_slack(body, SECRET))
        response = await self.client.post("/slack/events", data=body, headers=headers)
        await response.read()
        assert self.runtime.slack is not None
        await self.runtime.slack.wait_idle()
        return response.status


@pytest.fixture
async def rig(tmp_path: Path, logs: Collect) -> AsyncIterator[Rig]:
    fake = FakeSlackAPI()
    async with fake.serve() as api:
        env = {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": str(api.make_url("/api/")),
            "ENGAGEBOT_DB": str(tmp_path / "log.db"),
            "ENGAGEBOT_ADMINS": f"slack:{ADMIN}",
            "LOG_LEVEL": "INFO",
        }
        runtime = Runtime.build(load_settings(env, cwd=tmp_path), with_teams=False)
        try:
            async with TestClient(TestServer(runtime.web_app(), host="127.0.0.1")) as client:
                assert runtime.slack is not None
                post = await runtime.engagement.post_prompt(runtime.slack.poster, CHANNEL)
                yield Rig(fake, api, runtime, client, post)
                await runtime.slack.wait_idle()
        finally:
            runtime.close()


def request_lines(logs: Collect, start: int) -> list[str]:
    """The per-request lines of the Slack adapter logged since record ``start``."""
    return [
        r.getMessage()
        for r in logs.records[start:]
        if r.name == "adapters.slack" and ("outcome=" in r.getMessage() or "status=" in r.getMessage())
    ]


def assert_clean(logs: Collect) -> None:
    everything = "\n".join(logs.lines)
    for record in logs.records:
        if record.exc_info:  # a traceback would be formatted too
            everything += "\n" + logging.Formatter().formatException(record.exc_info)
    for secret in SECRETS:
        assert secret not in everything
        assert secret.lower() not in everything.lower()
    for text in TEXTS:
        assert text.lower() not in everything.lower(), text


async def test_no_secret_or_message_text_in_the_logs_and_one_line_per_request(rig: Rig, logs: Collect) -> None:
    post_ts = rig.post.message_id
    whole, _, frac = post_ts.partition(".")
    reply_ts = f"{int(whole) + 60}.{frac}"
    response_url = str(rig.api.make_url("/commands/T111/1/abc"))
    ids = iter(range(1, 1000))

    def event(payload: dict[str, Any]) -> str:
        return slack_event_body(payload, f"EvLog{next(ids)}")

    reply = event(slack_thread_reply(TEXTS[0], thread_ts=post_ts, channel=CHANNEL, ts=reply_ts, user="U1"))
    requests: list[tuple[str, dict[str, Any], int]] = [
        (reply, {}, 200),
        (reply, {}, 200),  # a retry: outcome=duplicate
        (event(slack_message_changed(ts=reply_ts, new_text=TEXTS[1], thread_ts=post_ts, channel=CHANNEL)), {}, 200),
        (event(slack_message(TEXTS[2], channel=CHANNEL)), {}, 200),  # top-level: ignored
        (event(slack_reaction_added("+1", ts=reply_ts, channel=CHANNEL, user="U2")), {}, 200),
        (event({"type": "app_home_opened", "user": "U1", "text": TEXTS[5]}), {}, 200),
        (event({"type": "message", "channel": CHANNEL, "ts": 5, "thread_ts": post_ts, "text": TEXTS[5]}), {}, 400),
        (event(slack_message_deleted(deleted_ts=reply_ts, thread_ts=post_ts, channel=CHANNEL)), {}, 200),
        (slack_command_body(f"{TEXTS[3]} and more words", "U1", CHANNEL, response_url), {"form": True}, 200),
        (slack_command_body("privacy", "U1", CHANNEL, response_url), {"form": True}, 200),
        (slack_command_body("summary this", ADMIN, CHANNEL, response_url), {"form": True}, 200),
        (slack_command_body("optout", "U2", CHANNEL, response_url), {"form": True}, 200),
        (slack_url_verification_body(APP_TOKEN_FREE), {}, 200),
        (event(slack_thread_reply(TEXTS[6], thread_ts=post_ts, channel=CHANNEL)), {"signed": False}, 401),
        ('{"type": "event_callback", "event": "' + TEXTS[5] + '"}', {}, 400),
        ("{not json " + TEXTS[5], {}, 400),
    ]
    for body, options, expected in requests:
        start = len(logs.records)
        status = await rig.send(body, **options)
        assert status == expected, body[:200]
        lines = request_lines(logs, start)
        assert len(lines) == 1, (body[:120], lines)
        assert STRUCTURED.match(lines[0]), lines[0]
        assert re.search(r"\b(outcome|status)=\w+", lines[0]), lines[0]
    assert rig.runtime.slack is not None
    rig.runtime.slack.events.log.flush()  # what a minute's timer or the server's stop does
    assert_clean(logs)
    # The lines are there at all (the checks above are not vacuous).
    assert any("outcome=stored" in line for line in logs.lines)
    assert any("outcome=duplicate" in line for line in logs.lines)
    assert any("status=401" in line for line in logs.lines)
    # At INFO, the captured events of the minute in one line: the reply, its retry, the edit, the top-level message,
    # the reaction and the deletion (the unknown event type and the malformed one are not captured events).
    counted = [
        r.getMessage() for r in logs.records if r.levelno >= logging.INFO and " events seconds=" in r.getMessage()
    ]
    assert [re.sub(r"seconds=\d+", "seconds=N", line) for line in counted] == [
        "slack events seconds=N stored=4 duplicate=1 ignored=1 opted_out=0 before_opt_in=0"
    ]
    assert all(STRUCTURED.match(line) for line in counted)


async def test_reconciliation_logs_counts_only(rig: Rig, logs: Collect) -> None:
    post_ts = rig.post.message_id
    whole, _, frac = post_ts.partition(".")
    rig.fake.replies[(CHANNEL, post_ts)] = [
        {"type": "message", "user": "U5", "text": TEXTS[4], "ts": f"{int(whole) + 30}.{frac}", "thread_ts": post_ts}
    ]
    rig.fake.fail_next("reactions.get", status=200, error="DISTINCTIVE-RECONCILED-TEXT-0005")
    from datetime import timedelta

    class Clock:
        def now(self) -> Any:
            return rig.post.posted_at + timedelta(hours=1)

        async def sleep(self, seconds: float) -> None:
            return None

    result = await reconciler_for(rig.runtime, pause=0, clock=Clock()).run()
    assert result.replies_added == 1
    assert result.posts_failed == 1  # reactions.get answered an error whose text must not be logged
    assert_clean(logs)
    assert any(line.endswith("posts_failed=1") for line in logs.lines)
    assert any("reconcile post failed post_id=1 error=http_200" in line for line in logs.lines)


def test_cli_errors_do_not_echo_secrets(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], logs: Collect
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("SLACK_APP_TOKEN", "not-an-xapp-DISTINCT")
    assert engagebot_app.main(["summary"]) == 2
    captured = capsys.readouterr()
    for secret in SECRETS:
        assert secret not in captured.err + captured.out
    assert "not-an-xapp-DISTINCT" not in captured.err
