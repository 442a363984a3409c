"""The source identity the daemon gives a configured provider, for tests that put slots
straight into a store (``PriceStore.save_fetch(..., source=...)``) before a daemon runs."""

from __future__ import annotations

from pathlib import Path

from energyd.app import check_providers
from energyd.config import Settings
from energyd.core.registry import source_identity
from energyd.core.selection import resolve
from energyd.providers.loader import EnergyProviderLoader

__all__ = ["source_of"]


def source_of(settings: Settings, key: str, bundled_dir: Path | None = None) -> str:
    """The identity of ``key``'s source under ``settings`` (plugins read in place, nothing
    deployed), as :class:`energyd.core.registry.ProviderRuntime` has it."""
    loader = EnergyProviderLoader(settings.config_dir, bundled_dir)
    loader.load_all(deployed_only=False)
    settings = check_providers(settings, loader, strict=False)
    spec = next(spec for spec in resolve(settings.energy) if spec.key == key)
    return source_identity(loader.providers.get(spec.plugin_id), spec)
