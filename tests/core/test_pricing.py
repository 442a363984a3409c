"""A provider's price formula over a real store and loader: the market price is stored, every
reader gets the end price with the market price beside it, and changing the formula needs no
new fetch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from energyd.config import load_settings
from energyd.core.pricing import priced
from energyd.domain.tariff import Tariff
from energyd.exceptions import ConfigError
from energyd.providers.base import EnergyPriceSlot
from tests.support.market_plugins import market_plugin, service_rig

PLUGINS = {"eur_market_provider.py": market_plugin("eur_market", price=8.5)}
GERMAN = {
    "adders": {"grid": 9.0, "levies": 4.2},
    "vat_percent": 19,
    "fees": [{"amount": 3.0, "from": "17:00", "to": "20:00", "days": "mon-fri"}],
}


def feed(**extra: Any) -> dict[str, Any]:
    return {"plugin": "eur_market", "region": "DE", **extra}


class TestThroughTheService:
    async def test_readers_get_the_end_price_and_the_market_price(self, tmp_path: Path) -> None:
        async with service_rig(tmp_path, PLUGINS, {"de": feed(tariff=GERMAN)}) as rig:
            service = rig.service
            spec = service.spec("de")
            (run,) = await service.refresh("de")
            assert "ok" == run.outcome
            now = datetime.now(UTC)
            slot = await service.slot_at(spec, now)
            assert slot is not None
            wall = slot.valid_from.astimezone(service.calendar(spec).zone)
            fee = 3.0 if 17 <= wall.hour < 20 and wall.weekday() < 5 else 0.0
            assert pytest.approx((8.5 + 13.2 + fee) * 1.19) == slot.price_pence
            assert (8.5, "EUR") == (slot.market_pence, slot.currency)
            assert pytest.approx(8.5 + 13.2 + fee) == slot.price_pence_exc_vat
            window = await service.price_window(spec, slot.valid_from, slot.valid_to)
            assert [(round((8.5 + 13.2 + fee) * 1.19, 4), 8.5)] == [
                (s["price"], s.get("market")) for s in window["slots"]
            ]

    async def test_the_store_keeps_the_market_price(self, tmp_path: Path) -> None:
        """What is stored is the source's price; the formula is applied when read."""
        async with service_rig(tmp_path, PLUGINS, {"de": feed(tariff=GERMAN)}) as rig:
            await rig.service.refresh("de")
            now = datetime.now(UTC)
            spec = rig.service.spec("de")
            raw = await rig.store.slots(
                "de", "DE", now, now + timedelta(hours=1), source=rig.service.runtime(spec).identity
            )
            assert raw
            assert {8.5} == {s.price_pence for s in raw}
            assert {None} == {s.market_pence for s in raw}

    async def test_a_feed_without_formula_is_unchanged(self, tmp_path: Path) -> None:
        async with service_rig(tmp_path, PLUGINS, {"de": feed()}) as rig:
            await rig.service.refresh("de")
            slot = await rig.service.slot_at(rig.service.spec("de"), datetime.now(UTC))
            assert slot is not None
            assert (8.5, None) == (slot.price_pence, slot.market_pence)

    async def test_import_and_export_feeds_of_one_market_each_with_its_formula(
        self, tmp_path: Path
    ) -> None:
        """Per direction: one feed per direction, each with its own formula (export: the
        market price, never below zero)."""
        providers = {
            "de_import": feed(tariff=GERMAN),
            "de_export": feed(price=-2.0, tariff={"floor": 0.0}),
        }
        async with service_rig(tmp_path, PLUGINS, providers) as rig:
            await rig.service.refresh()
            now = datetime.now(UTC)
            export = await rig.service.slot_at(rig.service.spec("de_export"), now)
            assert export is not None
            assert (0.0, -2.0) == (export.price_pence, export.market_pence)

    async def test_changing_the_formula_at_run_time_needs_no_fetch(self, tmp_path: Path) -> None:
        async with service_rig(tmp_path, PLUGINS, {"de": feed()}) as rig:
            service = rig.service
            await service.refresh("de")
            await service.set_settings({"energy.providers.de.tariff": {"vat_percent": 25}})
            slot = await service.slot_at(service.spec("de"), datetime.now(UTC))
            assert slot is not None
            assert pytest.approx(8.5 * 1.25) == slot.price_pence


class TestSettings:
    def base(self, tmp_path: Path, tariff: Any) -> Any:
        return load_settings(
            None,
            config_dir=tmp_path,
            energy={"provider_id": "de", "providers": {"de": feed(tariff=tariff)}},
        )

    def test_the_tariff_is_the_daemons_not_the_plugins(self, tmp_path: Path) -> None:
        entry = self.base(tmp_path, GERMAN).energy.providers["de"]
        assert "tariff" not in entry.plugin_config()
        assert 19 == entry.tariff.vat_percent
        assert "17:00" == entry.tariff.fees[0].start

    @pytest.mark.parametrize(
        ("tariff", "where"),
        [
            ({"vat_percent": 119}, "vat_percent"),
            ({"vat": 19}, "vat"),
            ({"fees": [{"amount": 1, "from": "7am"}]}, "from"),
            ({"fees": [{"amount": 1, "days": "weekdays"}]}, "days"),
            ({"fees": [{"amount": 1, "months": "winter"}]}, "months"),
            ({"floor": 10, "cap": 5}, "floor"),
            ({"timezone": "Mars/Olympus"}, "timezone"),
            ({"adders": {"grid": "lots"}}, "grid"),
        ],
    )
    def test_nonsense_is_a_config_error_naming_the_key(
        self, tmp_path: Path, tariff: Any, where: str
    ) -> None:
        with pytest.raises(ConfigError) as caught:
            self.base(tmp_path, tariff)
        assert where in str(caught.value)


class TestOverview:
    async def test_each_provider_names_its_currency_unit_and_formula(self, tmp_path: Path) -> None:
        """The providers topic / status reply says per provider what its prices are in and
        which formula makes them (as configured, ``from`` as written)."""
        providers = {"de": feed(tariff=GERMAN), "plain": feed()}
        async with service_rig(tmp_path, PLUGINS, providers) as rig:
            overview = await rig.service.overview()
        by_id = {p["id"]: p for p in overview["providers"]}
        assert ("EUR", "c/kWh", {}) == (
            by_id["de"]["currency"],
            by_id["de"]["unit"],
            by_id["de"]["notes"],
        )
        tariff = by_id["de"]["tariff"]
        assert tariff is not None
        assert (19, "17:00") == (tariff["vat_percent"], tariff["fees"][0]["from"])
        assert by_id["plain"]["tariff"] is None


class TestAllInPrices:
    """A retail source's all-in price beside the energy alone (Tibber's total and energy)."""

    def slot(self, **extra: Any) -> EnergyPriceSlot:
        start = datetime(2026, 12, 2, 10, tzinfo=UTC)
        return EnergyPriceSlot(start, start + timedelta(minutes=15), 30.0, "EUR", **extra)

    def test_the_formula_starts_from_the_energy_alone(self) -> None:
        """total 30 (energy 12 + taxes and VAT 18): the formula (fees and VAT) is applied to
        12, never to 30, so no VAT is counted twice."""
        tariff = Tariff(zone=ZoneInfo("Europe/Berlin"), adders={"grid": 8.0}, vat_percent=19)
        (priced_slot,) = priced([self.slot(energy_pence=12.0)], tariff)
        assert (12.0, pytest.approx(23.8)) == (priced_slot.market_pence, priced_slot.price_pence)

    def test_without_a_formula_the_all_in_price_is_published(self) -> None:
        (same,) = priced([self.slot(energy_pence=12.0)], None)
        assert (30.0, None) == (same.price_pence, same.market_pence)

    def test_a_forecast_band_goes_through_the_formula(self) -> None:
        tariff = Tariff(zone=ZoneInfo("Europe/Berlin"), multiplier=2.0)
        guess = self.slot(estimate=True, estimate_low_pence=20.0, estimate_high_pence=40.0)
        (priced_slot,) = priced([guess], tariff)
        assert (60.0, 40.0, 80.0) == (
            priced_slot.price_pence,
            priced_slot.estimate_low_pence,
            priced_slot.estimate_high_pence,
        )
