"""Plugin folders for the loader and management tests (a bundled one and a config dir), and
HTTP mocked at the transport for the plugin and kit tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aioresponses import aioresponses

from tests.support.http_mock import CompatAioresponses


@pytest.fixture
def http_mock() -> Iterator[aioresponses]:
    """aioresponses over every request of the test (nothing leaves the process)."""
    with CompatAioresponses() as mock:
        yield mock


@pytest.fixture
def bundled(tmp_path: Path) -> Path:
    """An empty folder standing in for bundled_config/providers/energy."""
    path = tmp_path / "bundled"
    path.mkdir()
    return path


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return tmp_path / "config"


@pytest.fixture
def deployed(config_dir: Path) -> Path:
    """Where the loader deploys to and loads from (not created)."""
    return config_dir / "providers" / "energy"
