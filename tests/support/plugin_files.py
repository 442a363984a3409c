"""Small plugin files for loader and management tests, written into tmp folders.

``good_plugin`` is written the way the v1 contract shows a plugin (importing
``providers.energy.base``); the other sources each break one rule of the contract.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from energyd.providers.base import EnergyPriceProvider, EnergyPriceSlot, EnergyProviderMetadata

__all__ = [
    "BAD_PROVIDER_ID",
    "EXPLODES_IF_RUN",
    "IMPORTED_CLASS_ONLY",
    "IMPORT_ERROR",
    "INIT_RAISES",
    "METADATA_RAISES",
    "METADATA_WRONG_TYPE",
    "NO_CLASS",
    "SYNTAX_ERROR",
    "TWO_CLASSES",
    "SharedProvider",
    "good_plugin",
    "kit_plugin",
    "snapshot_tree",
    "write_plugin",
]


def good_plugin(
    provider_id: str = "demo",
    version: str = "1.0.0",
    *,
    class_name: str = "DemoProvider",
    display_name: str | None = None,
    price: float = 12.5,
) -> str:
    """A complete plugin as the contract shows it: one provider class, 30-minute slots."""
    name = display_name or f"{provider_id} prices"
    return textwrap.dedent(
        f'''\
        """Test plugin {provider_id}."""

        from datetime import timedelta

        from providers.energy.base import (
            EnergyPriceProvider,
            EnergyPriceSlot,
            EnergyProviderMetadata,
        )

        __version__ = "{version}"


        class {class_name}(EnergyPriceProvider):
            def get_metadata(self):
                return EnergyProviderMetadata(
                    provider_id="{provider_id}",
                    display_name="{name}",
                    version=__version__,
                    supported_regions=("A", "C"),
                )

            def validate_config(self, config):
                return {{}} if config.get("region") else {{"region": "required"}}

            async def fetch_prices(self, region, start_utc, end_utc, config):
                slots = []
                moment = start_utc
                while moment < end_utc:
                    slots.append(
                        EnergyPriceSlot(moment, moment + timedelta(minutes=30), {price!r})
                    )
                    moment += timedelta(minutes=30)
                return slots
        '''
    )


def kit_plugin(provider_id: str = "kitdemo", requires_kit: object = 1, price: float = 7.5) -> str:
    """A plugin on the plugin kit: metadata and fields as class attributes, one fetch method.

    ``requires_kit`` is written as ``REQUIRES_KIT = <repr>`` (``None``: no such line).
    """
    line = "" if requires_kit is None else f"REQUIRES_KIT = {requires_kit!r}\n"
    return textwrap.dedent(
        f'''\
        """Test kit plugin {provider_id}."""

        from datetime import timedelta

        from providers.energy.base import (
            Choice,
            ConfigFields,
            EnergyProviderMetadata,
            KitProvider,
            split_into_slots,
        )

        __version__ = "1.0.0"
        {line}

        class KitDemoProvider(KitProvider):
            metadata = EnergyProviderMetadata(
                provider_id="{provider_id}",
                display_name="{provider_id} prices",
                version=__version__,
                supported_regions=("A", "C"),
                currency="EUR",
                slot_minutes=60,
                market_timezone="Europe/Berlin",
            )
            config_fields = ConfigFields(region=Choice(("A", "C"), required=True))

            async def fetch_window(self, region, start, end, settings):
                return split_into_slots(
                    start, end, {price!r}, slot=timedelta(hours=1), currency="EUR"
                )
        '''
    )


#: Appended to a plugin: if the loader ever runs the file, loading fails with this message.
EXPLODES_IF_RUN = '\nraise RuntimeError("this file was executed")\n'

SYNTAX_ERROR = '__version__ = "1.0.0"\n\ndef broken(:\n    pass\n'

IMPORT_ERROR = "import energyd_test_no_such_module\n\n" + good_plugin("import_error")

INIT_RAISES = good_plugin("init_raises").replace(
    "    def get_metadata(self):",
    '    def __init__(self):\n        raise RuntimeError("boom in init")\n\n'
    "    def get_metadata(self):",
)

METADATA_RAISES = good_plugin("metadata_raises").replace(
    "    def get_metadata(self):\n",
    '    def get_metadata(self):\n        raise ValueError("no metadata today")\n',
)

METADATA_WRONG_TYPE = good_plugin("wrong_type").replace(
    "    def get_metadata(self):\n",
    '    def get_metadata(self):\n        return {"provider_id": "wrong_type"}\n',
)

BAD_PROVIDER_ID = good_plugin("Bad-Id")


def bad_metadata(field: str) -> str:
    """A good plugin but for one metadata field, e.g. ``market_timezone="Mars/Base"``."""
    return good_plugin("odd").replace(
        'supported_regions=("A", "C"),', f'supported_regions=("A", "C"), {field},'
    )


NO_CLASS = '__version__ = "1.0.0"\n\nVALUE = 42\n'

TWO_CLASSES = (
    good_plugin("first", class_name="FirstProvider")
    + good_plugin("second", class_name="SecondProvider").split('__version__ = "1.0.0"\n', 1)[1]
)

IMPORTED_CLASS_ONLY = (
    '__version__ = "1.0.0"\n\nfrom tests.support.plugin_files import SharedProvider\n'
)


class SharedProvider(EnergyPriceProvider):
    """A concrete provider defined outside any plugin file (plugins may import it)."""

    def get_metadata(self) -> EnergyProviderMetadata:
        return EnergyProviderMetadata("shared", "Shared", "1.0.0")

    def validate_config(self, config: Mapping[str, Any]) -> dict[str, str]:
        return {}

    async def fetch_prices(
        self, region: str, start_utc: datetime, end_utc: datetime, config: Mapping[str, Any]
    ) -> list[EnergyPriceSlot]:
        return [EnergyPriceSlot(start_utc, start_utc + timedelta(minutes=30), 1.0)]


def write_plugin(directory: Path, name: str, source: str) -> Path:
    """Write ``source`` to ``directory/name`` (creating the folder); return the path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(source, encoding="utf-8")
    return path


def snapshot_tree(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` (relative path -> content), to prove nothing else was written."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }
