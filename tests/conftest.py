"""Shared fixtures: a clean environment for every test, a migrated temp database and Settings for tests."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from storage.repository import Repository

# Variables that change how engagebot (or an HTTP client it uses) behaves: a developer's shell or `.env`
# must not leak into the suite. Like httpx's clean_environ fixture, every test starts without them.
CLEARED_PREFIXES = ("ENGAGEBOT_", "SLACK_", "MICROSOFT")
CLEARED_NAMES = frozenset(
    {
        "PORT",
        "HOST",
        "LOG_LEVEL",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "WS_PROXY",
        "WSS_PROXY",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
    }
)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        upper = name.upper()
        if upper.startswith(CLEARED_PREFIXES) or upper in CLEARED_NAMES:
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repository]:
    """A migrated database in a temp file, closed after the test."""
    repository = Repository.open(tmp_path / "t.db")
    try:
        yield repository
    finally:
        repository.close()


@pytest.fixture
def settings_factory(tmp_path: Path) -> Callable[..., Settings]:
    """Build Settings for a test: defaults (database in the temp dir) overridden by keyword arguments."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"config_path": str(tmp_path / "engagebot.toml"), "database": str(tmp_path / "t.db")}
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test inside its temp dir, so no engagebot.toml or .env of the checkout is read."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def db(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """For CLI tests: a database with a week of activity on both platforms, named by ENGAGEBOT_DB."""
    from tests.cli_support import build_week

    path = workdir / "data" / "engagement.db"
    monkeypatch.setenv("ENGAGEBOT_DB", str(path))
    build_week(path)
    return path
