"""Fixtures of the HTTP tests: the parts of the app, and a client of it served on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.support.fake_octopus import RunningFake
from tests.support.http_rig import Rig, http_rig, serving


@pytest.fixture
async def rig(tmp_path: Path, fake_api: RunningFake) -> AsyncIterator[Rig]:
    async with http_rig(tmp_path, fake_api) as built:
        yield built


@pytest.fixture
async def client(rig: Rig) -> AsyncIterator[aiohttp.ClientSession]:
    async with serving(rig) as session:
        yield session
