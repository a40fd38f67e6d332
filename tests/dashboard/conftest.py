"""Fixtures of the dashboard tests: the site (see tests/dashboard/site.py), empty or with its community."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.dashboard.site import Site, seed, site


@pytest.fixture
async def empty(tmp_path: Path) -> AsyncIterator[Site]:
    async with site(tmp_path) as running:
        yield running


@pytest.fixture
async def community(tmp_path: Path) -> AsyncIterator[Site]:
    async with site(tmp_path) as running:
        await seed(running)
        yield running
