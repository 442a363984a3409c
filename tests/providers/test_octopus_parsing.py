"""Octopus Agile plugin: the pure functions (unit rates, product choice, tariff codes).

Links, Retry-After and timestamps are the plugin kit's: tests/providers/kit/.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from energyd.exceptions import ProviderDataError, ProviderNotFoundError
from tests.support.octopus_data import (
    REGIONS,
    SLOT,
    agile_rows,
    half_hours,
    load_fixture,
    product_detail,
    product_summary,
    unit_rate_row,
    utc,
)
from tests.support.plugins import octopus_agile


def plugin() -> Any:
    return octopus_agile()


class TestParseUnitRates:
    def test_ascending_from_newest_first(self) -> None:
        """Newest-first rows come out ascending with inc/exc VAT in place."""
        start, end = utc(2025, 1, 1), utc(2025, 1, 1, 2)
        rows = agile_rows(start, end, lambda moment: float(moment.hour * 10 + moment.minute))

        slots = plugin().parse_unit_rates(rows, start, end)

        assert half_hours(start, end) == [s.valid_from for s in slots]
        assert [0.0, 30.0, 10.0, 40.0] == [s.price_pence for s in slots]
        assert {"GBP"} == {s.currency for s in slots}

    def test_open_ended_row_clipped_on_its_grid(self) -> None:
        """valid_to null: slots up to the window end, the last one covering it."""
        row = unit_rate_row(utc(2024, 4, 1), None, 24.0, 22.86)

        slots = plugin().parse_unit_rates([row], utc(2025, 1, 1, 10), utc(2025, 1, 1, 11, 10))

        expected = [utc(2025, 1, 1, 10), utc(2025, 1, 1, 10, 30), utc(2025, 1, 1, 11)]
        assert expected == [s.valid_from for s in slots]

    def test_open_ended_row_after_window(self) -> None:
        """An open-ended row starting after the window contributes nothing."""
        row = unit_rate_row(utc(2025, 2, 1), None, 24.0)

        assert [] == plugin().parse_unit_rates([row], utc(2025, 1, 1), utc(2025, 1, 2))

    def test_long_row_only_overlapping_part(self) -> None:
        """A day-long row yields only the half-hours inside the window."""
        row = unit_rate_row(utc(2025, 1, 1), utc(2025, 1, 2), 12.0)

        slots = plugin().parse_unit_rates([row], utc(2025, 1, 1, 6), utc(2025, 1, 1, 7))

        assert [utc(2025, 1, 1, 6), utc(2025, 1, 1, 6, 30)] == [s.valid_from for s in slots]

    def test_partial_overlap_kept(self) -> None:
        """A slot straddling the window start is kept (it overlaps)."""
        start = utc(2025, 1, 1, 10)
        rows = agile_rows(start, start + 2 * SLOT)

        slots = plugin().parse_unit_rates(rows, start + timedelta(minutes=10), start + SLOT)

        assert [start] == [s.valid_from for s in slots]

    def test_direct_debit_preferred_in_either_order(self) -> None:
        """DIRECT_DEBIT wins over NON_DIRECT_DEBIT, whichever comes first."""
        start = utc(2025, 1, 1)
        dd = unit_rate_row(start, start + SLOT, 20.0, payment_method="DIRECT_DEBIT")
        ndd = unit_rate_row(start, start + SLOT, 21.0, payment_method="NON_DIRECT_DEBIT")

        for rows in ([dd, ndd], [ndd, dd]):
            slots = plugin().parse_unit_rates(rows, start, start + SLOT)
            assert [20.0] == [s.price_pence for s in slots]

    def test_non_direct_debit_alone_is_used(self) -> None:
        """Without a DIRECT_DEBIT twin the other payment method is still a price."""
        start = utc(2025, 1, 1)
        ndd = unit_rate_row(start, start + SLOT, 21.0, payment_method="NON_DIRECT_DEBIT")

        assert [21.0] == [
            s.price_pence for s in plugin().parse_unit_rates([ndd], start, start + SLOT)
        ]

    def test_misaligned_rows_rejected(self) -> None:
        """Rows that overlap without sharing a start are a data error."""
        start = utc(2025, 1, 1)
        rows = [
            unit_rate_row(start, start + SLOT, 10.0),
            unit_rate_row(start + timedelta(minutes=15), start + timedelta(minutes=45), 11.0),
        ]

        with pytest.raises(ProviderDataError, match="overlapping"):
            plugin().parse_unit_rates(rows, start, start + 2 * SLOT)

    @pytest.mark.parametrize(
        ("minutes", "reason"),
        [(0, "valid_to is not after valid_from"), (40, "not a multiple of 0:30:00")],
    )
    def test_bad_period_names_the_row(self, minutes: int, reason: str) -> None:
        """A row that is empty or not whole half-hours is refused, naming the row."""
        start = utc(2025, 1, 1)
        rows = [
            unit_rate_row(start + SLOT, start + 2 * SLOT, 10.0),
            unit_rate_row(start, start + timedelta(minutes=minutes), 11.0),
        ]

        with pytest.raises(ProviderDataError, match=f"^unit rate row 1: .*{reason}"):
            plugin().parse_unit_rates(rows, start, start + 2 * SLOT)

    def test_offsets_normalised_to_utc(self) -> None:
        """A +01:00 timestamp is read as the same instant in UTC."""
        row = {
            **unit_rate_row(utc(2025, 6, 1, 11), utc(2025, 6, 1, 11, 30), 5.0),
            "valid_from": "2025-06-01T12:00:00+01:00",
        }

        slots = plugin().parse_unit_rates([row], utc(2025, 6, 1), utc(2025, 6, 2))

        assert [utc(2025, 6, 1, 11)] == [s.valid_from for s in slots]


class TestProductChoice:
    @pytest.mark.parametrize(
        ("direction", "expected"),
        [("import", "AGILE-24-04-03"), ("export", "AGILE-OUTGOING-19-05-13")],
    )
    def test_recorded_products_list(self, direction: str, expected: str) -> None:
        """The May-2024 list: AGILE-24-04-03 imports, AGILE-OUTGOING-19-05-13 exports."""
        results = load_fixture("products_list_2024-05")["results"]

        assert expected == plugin().select_agile_product(results, direction)

    def test_latest_available_from_wins_across_offsets(self) -> None:
        """available_from is compared as instants (offsets honoured), Bulb ignored."""
        results = [
            product_summary("AGILE-24-10-01", available_from="2024-10-01T00:30:00+01:00"),
            product_summary("AGILE-24-09-30", available_from="2024-09-30T23:15:00Z"),
            product_summary("AGILE-BB-24-12-01", brand="BULB", available_from="2024-12-01T00:00Z"),
            product_summary("AGILE-OUTGOING-24-12-01", available_from="2024-12-01T00:00Z"),
        ]

        assert "AGILE-24-10-01" == plugin().select_agile_product(results, "import")

    def test_nothing_suitable(self) -> None:
        """No Agile product: ``None``."""
        results = [product_summary("VAR-22-11-01"), product_summary("GO-VAR-22-10-14")]

        assert None is plugin().select_agile_product(results, "import")

    def test_results_not_a_list(self) -> None:
        """A malformed products list is a data error."""
        with pytest.raises(ProviderDataError):
            plugin().select_agile_product({"code": "AGILE-24-10-01"}, "import")


class TestTariffCodes:
    @pytest.mark.parametrize("region", REGIONS)
    def test_recorded_agile_flex_detail(self, region: str) -> None:
        """The recorded AGILE-FLEX-22-11-25 detail has a tariff for each of the 14 regions."""
        detail = load_fixture("product_detail_AGILE-FLEX-22-11-25")

        code = plugin().tariff_code_for_region(detail, region)

        assert f"E-1R-AGILE-FLEX-22-11-25-{region}" == code

    def test_varying_key(self) -> None:
        """Flexible's ``varying`` payment key is read."""
        detail = load_fixture("product_detail_VAR-22-11-01_regions_A-C")

        assert "E-1R-VAR-22-11-01-B" == plugin().tariff_code_for_region(detail, "B")

    def test_any_payment_key_as_last_resort(self) -> None:
        """An unknown payment key still yields its code."""
        detail = product_detail("AGILE-24-10-01", ["C"], payment_key="prepayment")

        assert "E-1R-AGILE-24-10-01-C" == plugin().tariff_code_for_region(detail, "C")

    def test_direct_debit_preferred(self) -> None:
        """direct_debit_monthly wins when several payment keys are present."""
        detail = product_detail("AGILE-24-10-01", ["C"], payment_key="prepayment")
        tariffs = detail["single_register_electricity_tariffs"]["_C"]
        tariffs["direct_debit_monthly"] = {"code": "E-1R-AGILE-DD-C"}

        assert "E-1R-AGILE-DD-C" == plugin().tariff_code_for_region(detail, "C")

    def test_region_missing(self) -> None:
        """A region the product does not offer: not found, naming product and region."""
        detail = load_fixture("product_detail_VAR-22-11-01_regions_A-C")

        with pytest.raises(ProviderNotFoundError, match=r"VAR-22-11-01 .* region N"):
            plugin().tariff_code_for_region(detail, "N")

    def test_no_tariffs_object(self) -> None:
        """A detail without single-register tariffs is a data error."""
        with pytest.raises(ProviderDataError):
            plugin().tariff_code_for_region({"code": "AGILE-24-10-01"}, "C")

    @pytest.mark.parametrize(
        ("tariff", "product"),
        [
            ("E-1R-AGILE-24-10-01-C", "AGILE-24-10-01"),
            ("E-1R-AGILE-OUTGOING-19-05-13-P", "AGILE-OUTGOING-19-05-13"),
            ("e-1r-agile-flex-22-11-25-j", "AGILE-FLEX-22-11-25"),
        ],
    )
    def test_product_from_tariff(self, tariff: str, product: str) -> None:
        """The product code is the tariff code without ``E-1R-`` and the region."""
        assert product == plugin().product_from_tariff(tariff)
