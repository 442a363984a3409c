"""Plugin folders for the loader and management tests: a bundled one and a config dir."""

from __future__ import annotations

from pathlib import Path

import pytest


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
