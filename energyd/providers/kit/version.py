"""The plugin kit's version: bumped by one whenever the kit gains something a plugin may use
(a plugin states the lowest it needs with ``REQUIRES_KIT``); older plugins keep working.

- 1: HttpApi, retries, ConfigFields, time helpers, KitProvider, Conformance.
- 2: ``Field(identity=..., hint=...)``, ``Choice(names=...)``, ``ConfigFields.normalise`` /
  ``identity``; KitProvider's ``normalise_config`` and ``source_identity``.
- 3: ``ProviderNotPublishedError`` (raised for ``empty_statuses`` and an empty window),
  ``KitProvider.request_spacing_seconds`` / ``cache_seconds`` (:class:`Pacer`), the
  contract's optional ``currency_for`` and ``source_notes``.
- 4: ``EnergyPriceSlot.estimate`` (with ``estimate_low_pence`` / ``estimate_high_pence``),
  ``EnergyPriceSlot.energy_pence`` (the energy alone beside an all-in price),
  the contract's optional ``metadata_for``, :mod:`.zones` (``parse_local_clock``,
  ``wall_clock_zones``, ``wall_clock_slots``: zones by local time of day, weekday and month,
  exact on clock-change days) and :mod:`.paths` (``compile_path``, ``JsonPath``: JMESPath
  expressions for a source's JSON), ``InvalidValue`` (what a plugin's own config field
  raises for a value it refuses).
- 5: ``cache_seconds`` / ``max_age`` per request (``HttpApi.request``, ``get_json``,
  ``get_xml``, ``get_text``, ``paginate``; ``Pacer.shared(keep_for=, max_age=)``): an
  answer that rarely changes (a product list) kept longer than the plugin's default, shared
  by every feed of the plugin, and a check that needs a recent answer refusing an old one.

Its own module so the loader can read it without importing the rest of the kit.
"""

from __future__ import annotations

__all__ = ["KIT_VERSION"]

#: The kit this energyd offers; a plugin with ``REQUIRES_KIT`` above it is not loaded.
KIT_VERSION = 5
