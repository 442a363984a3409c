"""What plugins import: the v1 provider contract and the plugin kit, in one module.

Plugins import this module as ``providers.energy.base`` (the path the contract documents) or
as ``energyd.providers.base``; both are the same module object.

- **The v1 contract** (:mod:`energyd.providers.contract`): subclass
  :class:`EnergyPriceProvider` and implement ``get_metadata``, ``validate_config`` and
  ``fetch_prices``; return :class:`EnergyPriceSlot` lists; raise the errors below. A plugin
  written against the contract alone keeps working unchanged.
- **The kit** (:mod:`energyd.providers.kit`, version :data:`KIT_VERSION`): HTTP with the
  status -> error mapping, retries, declarative config fields, time parsing and
  :class:`KitProvider`, so a market plugin holds only its market knowledge. A plugin that
  needs a newer kit than this energyd has declares ``REQUIRES_KIT = <n>``; the loader then
  reports it instead of loading it.
"""

from __future__ import annotations

from energyd.providers import contract, kit
from energyd.providers.contract import *  # noqa: F403 - the facade re-exports the contract
from energyd.providers.kit import *  # noqa: F403 - ... and the kit, each with its __all__

#: The names of the v1 contract (behaviour unchanged since the first plugin).
CONTRACT_V1: tuple[str, ...] = tuple(contract.__all__)
#: The names of the plugin kit (version KIT_VERSION).
KIT: tuple[str, ...] = tuple(kit.__all__)

__all__ = [*CONTRACT_V1, *KIT]
