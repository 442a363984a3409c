"""The fixed / time-of-use plugin: its config, the slots it generates (clock-change days
included), its per-config metadata and identity, and that it never touches the network."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aioresponses import aioresponses

from energyd.providers.base import EnergyPriceSlot, HealthState
from energyd.providers.validation import validate_slots
from tests.support.plugins import load_bundled_plugin

PLUGIN = load_bundled_plugin("fixed_provider.py")
LONDON = ZoneInfo("Europe/London")
BERLIN = ZoneInfo("Europe/Berlin")

#: Economy 7-like: a day rate and seven cheap hours at night, UK time.
ECONOMY_7: dict[str, Any] = {
    "region": "home",
    "price": 24.5,
    "currency": "GBP",
    "timezone": "Europe/London",
    "zones": [{"name": "night", "price": 9.0, "from": "00:30", "to": "07:30"}],
}
#: A TOU tariff with a 00:30-04:30 cheap zone (the issue's test case).
TOU: dict[str, Any] = {
    "region": "home",
    "price": 20.0,
    "currency": "GBP",
    "timezone": "Europe/London",
    "zones": [{"name": "cheap", "price": 5.0, "from": "00:30", "to": "04:30"}],
}


def provider() -> Any:
    return PLUGIN.FixedProvider()


def day_window(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    following = day + timedelta(days=1)
    return (
        datetime.combine(day, time(0), zone).astimezone(UTC),
        datetime.combine(following, time(0), zone).astimezone(UTC),
    )


async def fetch_day(config: dict[str, Any], day: date, zone: ZoneInfo) -> list[EnergyPriceSlot]:
    slots: list[EnergyPriceSlot] = await provider().fetch_prices(
        config["region"], *day_window(day, zone), config
    )
    return slots


class TestConfig:
    def test_valid(self) -> None:
        """The Economy 7 config validates clean."""
        assert {} == provider().validate_config(ECONOMY_7)

    def test_required(self) -> None:
        """region, price and timezone are required, each saying how to give it."""
        errors = provider().validate_config({})
        assert ["region", "price", "timezone"] == list(errors)
        assert 'region = "home"' in errors["region"]
        assert "price = 24.5" in errors["price"]
        assert 'timezone = "Europe/London"' in errors["timezone"]

    @pytest.mark.parametrize(
        ("change", "key", "reason"),
        [
            ({"timezone": "Europe/Londn"}, "timezone", "did you mean 'Europe/London'?"),
            ({"slot_minutes": 45}, "slot_minutes", "must be 15, 30 or 60, got 45"),
            ({"slot_minutes": 120}, "slot_minutes", "a whole number from 15 to 60"),
            ({"currency": "pounds"}, "currency", "is not a value like GBP"),
            ({"price": "24,5"}, "price", "is not a number"),
            ({"region": "my/home"}, "region", "is not a value like home"),
            ({"zone": []}, "zone", "did you mean 'zones'?"),
            ({"zones": [{"price": 9, "form": "00:30"}]}, "zones", "did you mean 'from'?"),
        ],
    )
    def test_refused(self, change: dict[str, Any], key: str, reason: str) -> None:
        """Each wrong key is reported under its name, with a reason."""
        errors = provider().validate_config({**ECONOMY_7, **change})
        assert [key] == list(errors), errors
        assert reason in errors[key], errors

    def test_zone_edge_off_the_slot_grid(self) -> None:
        """With hourly slots the 00:30 and 07:30 edges are refused, each named."""
        errors = provider().validate_config({**ECONOMY_7, "slot_minutes": 60})
        assert ["zones"] == list(errors)
        assert "zones[0] (night): from 00:30 is not on the 60-minute slot grid" in errors["zones"]
        assert "zones[0] (night): to 07:30 is not on the 60-minute slot grid" in errors["zones"]

    def test_quarter_hour_edges(self) -> None:
        """A quarter-hour edge needs 15-minute slots."""
        config = {**ECONOMY_7, "zones": [{"price": 1, "from": "17:15", "to": "19:45"}]}
        assert ["zones"] == list(provider().validate_config(config))
        assert {} == provider().validate_config({**config, "slot_minutes": 15})

    def test_normalised(self) -> None:
        """Currency upper-case, zones in their canonical form."""
        config = {
            **ECONOMY_7,
            "currency": "gbp",
            "zones": [{"price": "9", "from": "0:30", "to": "7:30", "days": "Mo-Su"}],
        }
        assert {
            **ECONOMY_7,
            "zones": [
                {
                    "price": 9.0,
                    "from": "00:30",
                    "to": "07:30",
                    "days": "mon-sun",
                    "months": "jan-dec",
                }
            ],
        } == provider().normalise_config(config)

    def test_schema(self) -> None:
        """The metadata's schema has every key, region, price and timezone required."""
        schema = provider().get_metadata().config_schema
        assert {"region", "price", "currency", "timezone", "slot_minutes", "zones"} == set(
            schema["properties"]
        )
        assert ["region", "price", "timezone"] == schema["required"]


class TestSlots:
    async def test_economy_7_day(self) -> None:
        """A winter day: 48 half-hours, 14 at the night rate from 00:30 to 07:30."""
        slots = await fetch_day(ECONOMY_7, date(2026, 1, 14), LONDON)
        assert 48 == len(slots)
        night = [s for s in slots if s.price_pence == 9.0]
        assert 14 == len(night)
        assert (
            datetime(2026, 1, 14, 0, 30, tzinfo=UTC),
            datetime(2026, 1, 14, 7, 30, tzinfo=UTC),
        ) == (
            night[0].valid_from,
            night[-1].valid_to,
        )
        assert {24.5, 9.0} == {s.price_pence for s in slots}
        assert {"GBP"} == {s.currency for s in slots}

    async def test_summer_night_is_uk_time(self) -> None:
        """In summer the night rate starts at 00:30 BST, 23:30 UTC the day before."""
        slots = await fetch_day(ECONOMY_7, date(2026, 7, 1), LONDON)
        night = [s for s in slots if s.price_pence == 9.0]
        assert datetime(2026, 6, 30, 23, 30, tzinfo=UTC) == night[0].valid_from

    @pytest.mark.parametrize("zone", [LONDON, BERLIN], ids=["london", "berlin"])
    @pytest.mark.parametrize(
        ("day", "count"), [(date(2026, 3, 29), 46), (date(2026, 10, 25), 50)], ids=str
    )
    async def test_clock_change_days(self, zone: ZoneInfo, day: date, count: int) -> None:
        """46 / 50 half-hours; the 00:30-04:30 zone gives its price at 01:30 and 03:30 local
        (every pass of them; London's spring 01:30 is zoneinfo's 02:30 BST), and exactly the
        local 00:30-04:30 is in it."""
        config = {**TOU, "timezone": zone.key}
        slots = await fetch_day(config, day, zone)
        assert count == len(slots)
        for clock in (time(1, 30), time(3, 30)):
            for fold in (0, 1):
                moment = datetime.combine(day, clock, zone).replace(fold=fold)
                (slot,) = [s for s in slots if s.contains(moment)]
                assert 5.0 == slot.price_pence, moment
        for slot in slots:
            local = slot.valid_from.astimezone(zone).time()
            assert (time(0, 30) <= local < time(4, 30)) == (slot.price_pence == 5.0), slot

    async def test_weekday_and_month_zones(self) -> None:
        """Weekend all day cheap; a winter weekday peak; the later zone wins."""
        config = {
            "region": "home",
            "price": 30,
            "timezone": "Europe/Berlin",
            "zones": [
                {"price": 20, "days": "sat,sun"},
                {"price": 45, "from": "17:00", "to": "20:00", "days": "mon-fri", "months": "10-3"},
                {"price": 10, "from": "02:00", "to": "04:00"},
            ],
        }
        friday = await fetch_day(config, date(2026, 12, 4), BERLIN)
        saturday = await fetch_day(config, date(2026, 12, 5), BERLIN)
        june = await fetch_day(config, date(2026, 6, 5), BERLIN)

        def at(slots: list[EnergyPriceSlot], hour: int) -> float:
            return next(
                s.price_pence for s in slots if s.valid_from.astimezone(BERLIN).hour == hour
            )

        assert (30.0, 45.0, 10.0) == (at(friday, 12), at(friday, 18), at(friday, 3))
        assert (20.0, 20.0, 10.0) == (at(saturday, 12), at(saturday, 18), at(saturday, 3))
        assert (30.0, 30.0) == (at(june, 12), at(june, 18))
        assert {"EUR"} == {s.currency for s in friday}  # the default currency

    @pytest.mark.parametrize("minutes", [15, 60])
    async def test_slot_minutes(self, minutes: int) -> None:
        """slot_minutes 15 or 60: that many slots a day, each that long."""
        config = {**TOU, "zones": [], "slot_minutes": minutes}
        slots = await fetch_day(config, date(2026, 2, 2), LONDON)
        assert 24 * 60 // minutes == len(slots)
        assert {timedelta(minutes=minutes)} == {s.duration for s in slots}

    async def test_flat_tariff(self) -> None:
        """Without zones every slot has the price."""
        config = {"region": "home", "price": 31.2, "currency": "GBP", "timezone": "UTC"}
        slots = await fetch_day(config, date(2026, 2, 2), ZoneInfo("UTC"))
        assert {31.2} == {s.price_pence for s in slots}

    async def test_window_is_what_is_asked(self) -> None:
        """Slots overlapping the window only, valid for the daemon, final prices."""
        start = datetime(2026, 5, 1, 10, 10, tzinfo=UTC)
        end = datetime(2026, 5, 4, 10, tzinfo=UTC)
        slots = await provider().fetch_prices("home", start, end, ECONOMY_7)
        assert (datetime(2026, 5, 1, 10, tzinfo=UTC), end) == (
            slots[0].valid_from,
            slots[-1].valid_to,
        )
        assert len(slots) == len(validate_slots(slots, start, end, currency="GBP"))
        assert not any(s.provisional or s.estimate for s in slots)

    async def test_current_price(self) -> None:
        """get_current_price: the slot holding the moment."""
        moment = datetime(2026, 1, 14, 3, 10, tzinfo=UTC)
        slot = await provider().get_current_price("home", ECONOMY_7, now=moment)
        assert slot is not None
        assert (datetime(2026, 1, 14, 3, tzinfo=UTC), 9.0) == (slot.valid_from, slot.price_pence)


class TestNoNetwork:
    async def test_fetch_and_health_without_http(self, http_mock: aioresponses) -> None:
        """Nothing is requested: no mocked answer exists, and fetch and health succeed."""
        plugin = provider()
        async with aiohttp.ClientSession() as session:
            plugin.attach(session)
            start = datetime(2026, 1, 1, tzinfo=UTC)
            slots = await plugin.fetch_prices("home", start, start + timedelta(days=2), TOU)
            health = await plugin.health_check("home", TOU)
        assert 96 == len(slots)
        assert HealthState.OK == health.state
        assert {} == dict(http_mock.requests)

    async def test_no_session_needed(self) -> None:
        """The daemon's session is never used: fetching works without one attached."""
        start = datetime(2026, 1, 1, tzinfo=UTC)
        assert await provider().fetch_prices("home", start, start + timedelta(hours=1), TOU)


class TestMetadataAndIdentity:
    def test_metadata_for(self) -> None:
        """The config's zone, slot length and currency; no publication time."""
        meta = provider().metadata_for("home", {**ECONOMY_7, "slot_minutes": 15})
        assert ("Europe/London", 15, "GBP", None, "00:00") == (
            meta.market_timezone,
            meta.slot_minutes,
            meta.currency,
            meta.publish_time_local,
            meta.day_start_local,
        )
        assert ("fixed", PLUGIN.__version__) == (meta.provider_id, meta.version)

    def test_currency_for(self) -> None:
        """The configured currency (default EUR)."""
        assert "GBP" == provider().currency_for("home", ECONOMY_7)
        assert "EUR" == provider().currency_for("home", {**ECONOMY_7, "currency": None})

    @pytest.mark.parametrize(
        "change",
        [
            {"price": 25.0},
            {"currency": "EUR"},
            {"timezone": "UTC"},
            {"slot_minutes": 15},
            {"zones": [{"name": "night", "price": 9.5, "from": "00:30", "to": "07:30"}]},
            {"zones": [{"name": "night", "price": 9.0, "from": "00:30", "to": "08:30"}]},
            {"zones": [{"price": 9.0, "from": "00:30", "to": "07:30", "days": "mon-fri"}]},
            {"zones": []},
        ],
    )
    def test_identity_covers_every_price(self, change: dict[str, Any]) -> None:
        """Any key that changes a price changes the identity (stored prices are not reused)."""
        plugin = provider()
        assert plugin.source_identity("home", ECONOMY_7) != plugin.source_identity(
            "home", {**ECONOMY_7, **change}
        )

    def test_identity_ignores_spelling(self) -> None:
        """The same tariff spelt differently is the same source."""
        plugin = provider()
        spelt = {
            **ECONOMY_7,
            "currency": "gbp",
            "zones": [
                {"name": "night", "price": "9", "from": "0:30", "to": "7:30", "days": "Mo-Su"}
            ],
        }
        assert plugin.source_identity("home", ECONOMY_7) == plugin.source_identity("home", spelt)

    def test_source_notes(self) -> None:
        """Notes say the prices are the configuration; nothing for a broken config."""
        assert {"source": "the configured tariff (no API)", "zones": "1 zone in Europe/London"} == (
            provider().source_notes("home", ECONOMY_7)
        )
        assert {} == provider().source_notes("home", {})
