"""The kit's wall-clock zones: parsing zone tables, last-match prices, and slots that follow
real instants on clock-change days (Europe/London, Europe/Berlin, odd zones)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from energyd.domain.tariff import FeeZone
from energyd.providers import base
from energyd.providers.kit.config import ConfigFields
from energyd.providers.kit.zones import (
    Timezone,
    WallClockZones,
    Zones,
    parse_days,
    parse_local_clock,
    parse_months,
    wall_clock_slots,
    wall_clock_zones,
)

LONDON = ZoneInfo("Europe/London")
BERLIN = ZoneInfo("Europe/Berlin")
SPRING = date(2026, 3, 29)  # London 01:00 -> 02:00, Berlin 02:00 -> 03:00
AUTUMN = date(2026, 10, 25)  # London 02:00 -> 01:00, Berlin 03:00 -> 02:00
NIGHT = [{"name": "night", "price": 5.0, "from": "00:30", "to": "04:30"}]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The local calendar day in UTC (23, 24 or 25 hours)."""
    following = day + timedelta(days=1)
    return (
        datetime.combine(day, time(0), zone).astimezone(UTC),
        datetime.combine(following, time(0), zone).astimezone(UTC),
    )


def local_starts(slots: list[tuple[datetime, datetime]], zone: ZoneInfo) -> list[str]:
    return [f"{start.astimezone(zone):%H:%M}" for start, _ in slots]


class TestParsers:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [("00:30", time(0, 30)), ("7:00", time(7)), (" 23:59 ", time(23, 59)), ("24:00", None)],
    )
    def test_clock(self, text: str, expected: time | None) -> None:
        """HH:MM on the wall clock; 24:00 is midnight at the end of the day."""
        assert expected == parse_local_clock(text)

    @pytest.mark.parametrize("text", ["25:00", "12", "12:5", "noon", "12:60", "-1:00"])
    def test_bad_clock(self, text: str) -> None:
        """Anything but 00:00 .. 24:00 is refused."""
        with pytest.raises(ValueError, match=r"HH:MM|time of day"):
            parse_local_clock(text)

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("mon-fri", {0, 1, 2, 3, 4}),
            ("sat,sun", {5, 6}),
            ("fri-mon", {4, 5, 6, 0}),
            ("Mo-Fr", {0, 1, 2, 3, 4}),  # evcc's spelling
            ("Saturday, Sunday", {5, 6}),
        ],
    )
    def test_days(self, text: str, expected: set[int]) -> None:
        """Weekday names and ranges (wrapping), Monday 0; evcc's two letters too."""
        assert frozenset(expected) == parse_days(text)

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("jan-mar", {1, 2, 3}),
            ("11-2", {11, 12, 1, 2}),
            ("oct-mar", {10, 11, 12, 1, 2, 3}),
            ("6", {6}),
            ("jun-8", {6, 7, 8}),
        ],
    )
    def test_months(self, text: str, expected: set[int]) -> None:
        """Month names or numbers 1 .. 12, ranges may wrap over the new year."""
        assert frozenset(expected) == parse_months(text)

    @pytest.mark.parametrize("text", ["13", "0-3", "spring"])
    def test_bad_months(self, text: str) -> None:
        """Unknown months are refused, saying numbers are allowed."""
        with pytest.raises(ValueError, match=r"1 \.\. 12"):
            parse_months(text)


class TestPrices:
    def test_default_outside_zones(self) -> None:
        """Outside every zone the default price applies; inside, the zone's."""
        tariff = wall_clock_zones(NIGHT, default=20, timezone="Europe/London")
        assert 20.0 == tariff.price_at(utc(2026, 1, 5, 12))
        assert 5.0 == tariff.price_at(utc(2026, 1, 5, 1))
        assert 20.0 == tariff.price_at(utc(2026, 1, 5, 4, 30))  # to is exclusive

    def test_later_zone_wins(self) -> None:
        """Where zones overlap the later one gives the price (as evcc's fixed tariff)."""
        tariff = wall_clock_zones(
            [
                {"price": 10, "from": "00:00", "to": "08:00"},
                {"price": 3, "from": "02:00", "to": "04:00", "name": "boost"},
            ],
            default=30,
            timezone="UTC",
        )
        prices = [tariff.price_at(utc(2026, 2, 2, hour)) for hour in (1, 2, 3, 4, 9)]
        assert [10.0, 3.0, 3.0, 10.0, 30.0] == prices
        found = tariff.zone_at(utc(2026, 2, 2, 3))
        assert found is not None
        assert "boost" == found.name

    def test_wrapping_zone_keeps_its_starting_day(self) -> None:
        """A Friday 22:00-06:00 zone covers Saturday 05:00 but not Monday 05:00."""
        tariff = wall_clock_zones(
            [{"price": 1, "from": "22:00", "to": "06:00", "days": "fri"}],
            default=9,
            timezone="UTC",
        )
        friday, saturday, monday = date(2026, 5, 8), date(2026, 5, 9), date(2026, 5, 11)
        assert 1.0 == tariff.price_at(datetime.combine(friday, time(23), UTC))
        assert 1.0 == tariff.price_at(datetime.combine(saturday, time(5), UTC))
        assert 9.0 == tariff.price_at(datetime.combine(saturday, time(23), UTC))
        assert 9.0 == tariff.price_at(datetime.combine(monday, time(5), UTC))

    def test_days_and_months(self) -> None:
        """Weekend and winter zones apply only on those days and months (local)."""
        tariff = wall_clock_zones(
            [
                {"price": 15, "days": "sat,sun"},
                {"price": 40, "from": "16:00", "to": "19:00", "days": "mon-fri", "months": "11-2"},
            ],
            default=25,
            timezone="Europe/Berlin",
        )
        assert 40.0 == tariff.price_at(datetime(2026, 12, 2, 17, tzinfo=BERLIN))  # a Wednesday
        assert 25.0 == tariff.price_at(datetime(2026, 6, 3, 17, tzinfo=BERLIN))  # June
        assert 15.0 == tariff.price_at(datetime(2026, 12, 5, 17, tzinfo=BERLIN))  # a Saturday
        # 23:30 UTC on Friday is already Saturday in Berlin
        assert 15.0 == tariff.price_at(utc(2026, 12, 4, 23, 30))

    def test_zones_are_the_tariff_fee_zones(self) -> None:
        """The kit reuses the price formula's FeeZone (one definition of "covers")."""
        tariff = wall_clock_zones(NIGHT, default=20, timezone=LONDON)
        expected = (FeeZone(5.0, time(0, 30), time(4, 30), name="night"),)
        assert (LONDON, 20.0, expected) == (tariff.zone, tariff.default, tariff.zones)

    def test_naive_moment_refused(self) -> None:
        """A naive moment is a bug, not a local time."""
        with pytest.raises(ValueError, match="timezone-aware"):
            WallClockZones(LONDON, 1.0).price_at(datetime(2026, 1, 1))


class TestClockChangeDays:
    @pytest.mark.parametrize("zone", [LONDON, BERLIN], ids=["london", "berlin"])
    @pytest.mark.parametrize("day", [SPRING, AUTUMN], ids=["spring", "autumn"])
    @pytest.mark.parametrize("clock", [time(1, 30), time(3, 30)], ids=["0130", "0330"])
    def test_night_zone_at_0130_and_0330(self, zone: ZoneInfo, day: date, clock: time) -> None:
        """A 00:30-04:30 zone gives its price at 01:30 and 03:30 local on both days (each
        pass of a repeated time; London's spring 01:30 does not exist, and the instant
        zoneinfo makes of it, 02:30 BST, is in the zone too)."""
        tariff = wall_clock_zones(NIGHT, default=20, timezone=zone)
        for fold in (0, 1):
            moment = datetime.combine(day, clock, zone).replace(fold=fold)
            assert 5.0 == tariff.price_at(moment), moment.astimezone(UTC)
            start, end = day_bounds(day, zone)
            (slot,) = [
                s for s in tariff.slots(start, end, 30, currency="GBP") if s.contains(moment)
            ]
            assert 5.0 == slot.price_pence

    @pytest.mark.parametrize("zone", [LONDON, BERLIN], ids=["london", "berlin"])
    @pytest.mark.parametrize(("day", "hours"), [(SPRING, 23), (AUTUMN, 25), (date(2026, 7, 1), 24)])
    @pytest.mark.parametrize("minutes", [15, 30, 60])
    def test_slot_counts(self, zone: ZoneInfo, day: date, hours: int, minutes: int) -> None:
        """Slots follow real instants: 46 / 48 / 50 half-hours, 92 / 96 / 100 quarters."""
        slots = wall_clock_slots(*day_bounds(day, zone), zone, minutes)
        assert hours * 60 // minutes == len(slots)
        assert {timedelta(minutes=minutes)} == {end - start for start, end in slots}
        assert day_bounds(day, zone) == (slots[0][0], slots[-1][1])

    def test_london_spring_has_no_0100_or_0130(self) -> None:
        """2026-03-29 UK: 00:00, 00:30, then 02:00 BST (the clock jumps 01:00 -> 02:00)."""
        slots = wall_clock_slots(*day_bounds(SPRING, LONDON), LONDON, 30)
        assert ["00:00", "00:30", "02:00", "02:30"] == local_starts(slots, LONDON)[:4]
        assert (utc(2026, 3, 29, 1), utc(2026, 3, 29, 1, 30)) == slots[2]

    def test_london_autumn_repeats_the_hour_inside_the_zone(self) -> None:
        """2026-10-25 UK: 01:00 and 01:30 twice (BST, then GMT), all four in the zone."""
        tariff = wall_clock_zones(NIGHT, default=20, timezone=LONDON)
        slots = tariff.slots(*day_bounds(AUTUMN, LONDON), 30, currency="GBP")
        night = [s for s in slots if s.price_pence == 5.0]
        starts = [f"{s.valid_from.astimezone(LONDON):%H:%M%z}" for s in night]
        assert [
            "00:30+0100",
            "01:00+0100",
            "01:30+0100",
            "01:00+0000",
            "01:30+0000",
            "02:00+0000",
            "02:30+0000",
            "03:00+0000",
            "03:30+0000",
            "04:00+0000",
        ] == starts
        assert (utc(2026, 10, 24, 23, 30), utc(2026, 10, 25, 4, 30)) == (
            night[0].valid_from,
            night[-1].valid_to,
        )

    def test_zone_is_wall_clock_not_midnight_plus_duration(self) -> None:
        """After the spring change the zone still ends at 04:30 local (03:30 UTC), not at
        midnight + 4.5 h (04:30 UTC = 05:30 BST), evcc's drift."""
        tariff = wall_clock_zones(NIGHT, default=20, timezone=LONDON)
        slots = tariff.slots(*day_bounds(SPRING, LONDON), 30, currency="GBP")
        night = [s for s in slots if s.price_pence == 5.0]
        assert (utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 3, 30)) == (
            night[0].valid_from,
            night[-1].valid_to,
        )
        assert 6 == len(night)  # 00:30-01:00 GMT, then 02:00-04:30 BST


class TestWallClockSlots:
    def test_contiguous_and_windowed(self) -> None:
        """Slots touch end to start and are those overlapping the window, in UTC."""
        start, end = utc(2026, 10, 24, 20, 10), utc(2026, 10, 26, 3)
        slots = wall_clock_slots(start, end, LONDON, 30)
        assert all(a[1] == b[0] for a, b in itertools.pairwise(slots))
        assert (utc(2026, 10, 24, 20), utc(2026, 10, 26, 3)) == (slots[0][0], slots[-1][1])
        assert all(s.tzinfo is UTC and e.tzinfo is UTC for s, e in slots)

    def test_half_hour_offset_zone(self) -> None:
        """Asia/Kolkata (+05:30): hourly slots start on the local hour (UTC :30)."""
        kolkata = ZoneInfo("Asia/Kolkata")
        slots = wall_clock_slots(*day_bounds(date(2026, 1, 10), kolkata), kolkata, 60)
        assert 24 == len(slots)
        assert {"00"} == {f"{s.astimezone(kolkata):%M}" for s, _ in slots}
        assert {30} == {s.minute for s, _ in slots}

    def test_half_hour_jump(self) -> None:
        """Lord Howe's spring change (02:00 -> 02:30) with hourly slots: one 30-minute slot
        after the jump, none spanning it."""
        howe = ZoneInfo("Australia/Lord_Howe")
        slots = wall_clock_slots(*day_bounds(date(2026, 10, 4), howe), howe, 60)
        assert ["00:00", "01:00", "02:30", "03:00"] == local_starts(slots, howe)[:4]
        assert timedelta(minutes=30) == slots[2][1] - slots[2][0]
        assert 23.5 * 3600 == sum((e - s).total_seconds() for s, e in slots)

    def test_midnight_gap(self) -> None:
        """America/Santiago's spring change skips local midnight: the day starts at 01:00."""
        santiago = ZoneInfo("America/Santiago")
        day = date(2026, 9, 6)
        start = datetime.combine(day, time(1), santiago).astimezone(UTC)
        slots = wall_clock_slots(start, start + timedelta(hours=2), santiago, 30)
        assert ["01:00", "01:30", "02:00", "02:30"] == local_starts(slots, santiago)
        before = wall_clock_slots(start - timedelta(minutes=30), start, santiago, 30)
        assert [(start - timedelta(minutes=30), start)] == before

    @pytest.mark.parametrize("minutes", [0, 7, 50])
    def test_slot_must_divide_the_day(self, minutes: int) -> None:
        """A slot length that does not divide a day is a programming error."""
        with pytest.raises(ValueError, match="divide a day"):
            wall_clock_slots(utc(2026, 1, 1), utc(2026, 1, 2), LONDON, minutes)

    def test_empty_window(self) -> None:
        """An empty window is a bug."""
        with pytest.raises(ValueError, match="empty window"):
            wall_clock_slots(utc(2026, 1, 2), utc(2026, 1, 1), LONDON, 30)


class TestOffGrid:
    def test_edges_on_the_grid(self) -> None:
        """00:30 and 04:30 lie on the 15- and 30-minute grids."""
        tariff = wall_clock_zones(NIGHT, default=20, timezone=LONDON)
        assert ([], []) == (tariff.off_grid(15), tariff.off_grid(30))

    def test_edge_named(self) -> None:
        """On the hourly grid both edges are refused, each naming its zone and key."""
        tariff = wall_clock_zones(NIGHT, default=20, timezone=LONDON)
        assert [
            "zones[0] (night): from 00:30 is not on the 60-minute slot grid (slot_minutes = 60;"
            " use a smaller slot_minutes or move the edge)",
            "zones[0] (night): to 04:30 is not on the 60-minute slot grid (slot_minutes = 60;"
            " use a smaller slot_minutes or move the edge)",
        ] == tariff.off_grid(60)

    def test_midnight_end_is_on_every_grid(self) -> None:
        """24:00 (no ``to``) is on every grid."""
        tariff = wall_clock_zones([{"price": 1, "from": "22:00"}], default=2, timezone=LONDON)
        assert [] == tariff.off_grid(60)


class TestZonesField:
    FIELDS = ConfigFields(zones=Zones(), timezone=Timezone(default="UTC"))

    def test_normalised(self) -> None:
        """Each zone in one canonical form: defaults filled in, days and months as ranges."""
        settings = self.FIELDS.parse(
            {
                "zones": [
                    {"price": "9", "from": "0:30", "to": "7:30", "name": " night "},
                    {
                        "price": 40,
                        "from": "16:00",
                        "to": "24:00",
                        "days": "Mo-Fr",
                        "months": "11-2",
                    },
                    {"price": 3, "days": ["sat", "sun"], "months": "jan,feb,mar,jul"},
                ]
            }
        )
        assert [
            {
                "name": "night",
                "price": 9.0,
                "from": "00:30",
                "to": "07:30",
                "days": "mon-sun",
                "months": "jan-dec",
            },
            {"price": 40.0, "from": "16:00", "to": "24:00", "days": "mon-fri", "months": "nov-feb"},
            {
                "price": 3.0,
                "from": "00:00",
                "to": "24:00",
                "days": "sat,sun",
                "months": "jan-mar,jul",
            },
        ] == settings["zones"]

    def test_normal_form_reads_back_the_same(self) -> None:
        """Normalising twice changes nothing (the daemon keeps the normalised config)."""
        config = {"zones": [{"price": 1, "from": "22:00", "to": "6:00", "days": "fri-mon"}]}
        once = self.FIELDS.normalise(config)
        assert once == self.FIELDS.normalise(once)
        assert "fri-mon" == once["zones"][0]["days"]

    def test_none_is_no_zones(self) -> None:
        """Without zones the value is None (a flat tariff)."""
        assert None is self.FIELDS.parse({})["zones"]
        assert [] == self.FIELDS.parse({"zones": []})["zones"]

    @pytest.mark.parametrize(
        ("zones", "reason"),
        [
            ("00:30-04:30", "expected a list of zones"),
            ([5], "zones[0]: expected a table"),
            ([{"from": "00:30"}], "zones[0]: price is required"),
            ([{"price": "cheap"}], "zones[0]: price 'cheap' is not a number"),
            ([{"price": 1e9}], "zones[0]: price must be a number from -100000 to 100000"),
            ([{"price": 1, "start": "00:30"}], "zones[0]: unknown key 'start'; known: name"),
            ([{"price": 1, "hours": "0-5"}], "zones[0]: unknown key 'hours'; known:"),
            ([{"price": 1, "form": "00:30"}], "did you mean 'from'?"),
            ([{"price": 1, "from": "24:00"}], "zones[0]: from: a zone cannot start at 24:00"),
            ([{"price": 1, "name": "n", "to": "25:00"}], "zones[0] (n): to: '25:00'"),
            ([{"price": 1, "from": "06:00", "to": "06:00"}], "from and to are the same time"),
            ([{"price": 1}, {"price": 2, "days": "weekdays"}], "zones[1]: days: weekday"),
            ([{"price": 1, "months": "13"}], "zones[0]: months: month '13'"),
            ([{"price": 1, "from": 630}], "zones[0]: from: 630 is not a string"),
            ([{"price": 1, "name": 3}], "zones[0]: name 3 is not a string"),
        ],
    )
    def test_refused(self, zones: object, reason: str) -> None:
        """The reason names the entry and key that is wrong."""
        errors = self.FIELDS.validate({"zones": zones})
        assert ["zones"] == list(errors)
        assert reason in errors["zones"], errors

    def test_schema(self) -> None:
        """The schema is an array of zone objects, price required."""
        schema = Zones().schema()
        assert "array" == schema["type"]
        assert ["price"] == schema["items"]["required"]
        assert {"name", "price", "from", "to", "days", "months"} == set(
            schema["items"]["properties"]
        )


class TestTimezoneField:
    def test_known(self) -> None:
        """An IANA name is kept."""
        assert "Europe/London" == ConfigFields(tz=Timezone()).parse({"tz": "Europe/London"})["tz"]

    @pytest.mark.parametrize(
        ("value", "reason"),
        [
            ("Europe/Londn", "did you mean 'Europe/London'?"),
            ("CET+1", "is not an IANA time zone"),
            ("../etc/passwd", "is not an IANA time zone"),
            (1, "1 is not a time zone name"),
        ],
    )
    def test_refused(self, value: object, reason: str) -> None:
        """A wrong name is refused, a near miss with a suggestion."""
        errors = ConfigFields(tz=Timezone()).validate({"tz": value})
        assert reason in errors["tz"], errors

    def test_required_says_what(self) -> None:
        """Missing: what a valid value looks like."""
        errors = ConfigFields(tz=Timezone(required=True)).validate({})
        assert "required: an IANA time zone like Europe/London" == errors["tz"]


def test_facade_exports() -> None:
    """Plugins reach the zones through providers.energy.base."""
    assert (base.wall_clock_zones, base.wall_clock_slots, base.Zones, base.Timezone) == (
        wall_clock_zones,
        wall_clock_slots,
        Zones,
        Timezone,
    )
    assert {
        "WallClockZones",
        "parse_local_clock",
        "parse_days",
        "parse_months",
        "wall_clock_zones",
        "wall_clock_slots",
    } <= set(base.KIT)
