"""The captured events' log (bot/ingest_log.py): a DEBUG line per event, and one INFO line per interval with the
count of each outcome, written only when events came, and at once by flush()."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest

from bot.ingest_log import IngestLog

SAFETY_NET = 30.0  # seconds: only so that a broken test fails instead of hanging


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.info = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        if record.levelno >= logging.INFO:
            self.info.set()


@pytest.fixture
def lines() -> logging.Logger:
    logger = logging.getLogger("tests.ingest_log")
    logger.handlers[:] = []
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger


def infos(handler: Lines) -> list[str]:
    messages = [r.getMessage() for r in handler.records if r.levelno >= logging.INFO]
    return [re.sub(r"seconds=\d+", "seconds=N", m) for m in messages]


async def test_the_interval_ends_with_one_info_line_of_counts(lines: logging.Logger) -> None:
    handler = Lines()
    lines.addHandler(handler)
    log = IngestLog(lines, "slack", interval=0.01)
    for outcome in ("stored", "stored", "duplicate", "stored"):
        log.event(outcome, "slack event outcome=%s", outcome)
    assert [r.getMessage() for r in handler.records] == ["slack event outcome=stored"] * 2 + [
        "slack event outcome=duplicate",
        "slack event outcome=stored",
    ]
    await asyncio.wait_for(handler.info.wait(), SAFETY_NET)
    assert infos(handler) == ["slack events seconds=N stored=3 duplicate=1 ignored=0 opted_out=0 before_opt_in=0"]
    log.flush()  # nothing counted since: no line
    assert len(infos(handler)) == 1


async def test_flush_writes_at_once_and_debug_lines_are_skipped_at_info(lines: logging.Logger) -> None:
    handler = Lines()
    lines.addHandler(handler)
    lines.setLevel(logging.INFO)
    log = IngestLog(lines, "teams")  # a minute: the flush comes first
    log.event("ignored", "teams event outcome=%s", "ignored")
    log.event("refused", "teams event outcome=%s", "refused")  # an outcome this log does not know is still counted
    assert handler.records == []
    log.flush()
    assert infos(handler) == [
        "teams events seconds=N stored=0 duplicate=0 ignored=1 opted_out=0 before_opt_in=0 refused=1"
    ]
