"""For the tests of long chat commands: the reads they make on a read-only connection of their own, held until the
test lets them go, so a test can show that the event loop answers other requests meanwhile (no timing involved)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import pytest

from storage.repository import ReadOnlyRepository

GIVE_UP = 10  # seconds: only reached when the read blocks the event loop (the test then fails on ``released``)


class HeldReads:
    """Every ``posts_by_ids`` on a read-only connection (a summary, export or report reads it) waits for
    ``release``. ``started`` is set when the first read is held; ``released`` says it was let go, not timed out."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.released: bool | None = None
        self.threads: set[str] = set()
        original = ReadOnlyRepository.posts_by_ids

        def held(repo: ReadOnlyRepository, ids: Iterable[int]) -> Any:
            self.threads.add(threading.current_thread().name)
            self.started.set()
            if self.released is None:
                self.released = self.release.wait(timeout=GIVE_UP)
            return original(repo, ids)

        monkeypatch.setattr(ReadOnlyRepository, "posts_by_ids", held)
