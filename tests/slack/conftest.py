"""The ``rig`` fixture of the Slack adapter tests (see tests/slack/rig.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.runtime import Runtime
from bot.config import load_settings
from tests.fakes import FakeSlackAPI
from tests.slack.rig import Rig, slack_env


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    fake = FakeSlackAPI()
    async with fake.serve() as api:
        settings = load_settings(slack_env(api, tmp_path), cwd=tmp_path)
        runtime = Runtime.build(settings, with_teams=False)
        try:
            async with TestClient(TestServer(runtime.web_app(), host="127.0.0.1")) as client:
                yield Rig(fake, api, runtime, client)
                assert runtime.slack is not None
                await runtime.slack.wait_idle()
        finally:
            runtime.close()
