"""Plugin folders for the loader and management tests (a bundled one and a config dir), and
HTTP mocked at the transport for the plugin and kit tests; a record of what is parsed."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The file names ``ast.parse`` is asked to parse from here on."""
    names: list[str] = []
    real: Callable[..., Any] = ast.parse

    def counting(source: Any, filename: str = "<unknown>", *args: Any, **kwargs: Any) -> Any:
        names.append(filename)
        return real(source, filename, *args, **kwargs)

    monkeypatch.setattr(ast, "parse", counting)
    return names
