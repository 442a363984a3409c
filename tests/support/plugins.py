"""Load plugin files the way the daemon does: standalone, under a unique module name."""

from __future__ import annotations

import functools
import importlib.util
import itertools
import sys
from pathlib import Path
from types import ModuleType

from energyd.providers.compat import install_import_aliases

__all__ = [
    "BUNDLED_FILES",
    "BUNDLED_IDS",
    "BUNDLED_PLUGINS",
    "load_bundled_plugin",
    "load_plugin_file",
    "octopus_agile",
]

#: Where the shipped ``*_provider.py`` files live in the repository.
BUNDLED_PLUGINS = Path(__file__).resolve().parents[2] / "bundled_config" / "providers" / "energy"
#: The plugins energyd ships, by provider id (written out: a test says what ships).
BUNDLED_IDS = (
    "amber",
    "awattar",
    "energidataservice",
    "energy_charts",
    "entsoe",
    "fixed",
    "http_json",
    "nordpool",
    "octopus_agile",
    "tibber",
)
BUNDLED_FILES = tuple(f"{name}_provider.py" for name in BUNDLED_IDS)

_counter = itertools.count()


def load_plugin_file(path: Path) -> ModuleType:
    """Import ``path`` as a fresh module (its own globals, its own caches)."""
    install_import_aliases()
    name = f"_energyd_test_plugin_{path.stem}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load plugin file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve annotations through sys.modules
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def load_bundled_plugin(filename: str) -> ModuleType:
    """Load one of the bundled plugins by file name, e.g. ``octopus_agile_provider.py``."""
    return load_plugin_file(BUNDLED_PLUGINS / filename)


@functools.cache
def octopus_agile() -> ModuleType:
    """The bundled Octopus Agile plugin module, loaded once per test session."""
    return load_bundled_plugin("octopus_agile_provider.py")
