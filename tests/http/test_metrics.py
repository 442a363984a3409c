"""/metrics (energyd.http.metrics): the Prometheus text, the fetch counters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from energyd.domain.records import FetchOutcome, FetchRun
from energyd.http.metrics import Mark, Metric, render, unseen_runs
from tests.support.http_rig import (
    PLUGIN,
    Rig,
    scrape,
    value,
)


class TestMetrics:
    async def test_metrics_parse_and_match_the_store(
        self, rig: Rig, client: aiohttp.ClientSession
    ) -> None:
        """Fetch counts, stored slots, the current price and health agree with the store."""
        await rig.service.refresh()
        rig.fake.state.faults.extend([500] * 10)
        await rig.service.refresh()
        families = await scrape(client)
        assert "counter" == families["energyd_fetches"].type
        assert 2 == value(families, "energyd_fetches_total", provider="octopus_agile")
        assert 1 == value(families, "energyd_fetch_failures_total", provider="octopus_agile")
        counts = await rig.store.counts()
        stored = value(families, "energyd_slots_stored", provider="octopus_agile", region="C")
        assert counts[("octopus_agile", "C")] == stored
        slot = await rig.store.slot_at("octopus_agile", "C", datetime.now(UTC))
        assert slot is not None
        price = value(families, "energyd_current_price", provider="octopus_agile", region="C")
        assert slot.price_pence == price
        health = {s.labels["state"]: s.value for s in families["energyd_provider_health"].samples}
        assert {"degraded": 1.0} == {k: v for k, v in health.items() if v}
        last_ok = await rig.store.last_fetch("octopus_agile", "C", FetchOutcome.OK)
        assert last_ok is not None
        assert last_ok.started_at.timestamp() == value(
            families, "energyd_last_success_timestamp_seconds", provider="octopus_agile"
        )
        assert 1 == value(families, "energyd_plugin_info", file=PLUGIN, status="up_to_date")
        assert "energyd_mqtt_connected" not in families

    async def test_counters_only_grow_by_new_runs(
        self, rig: Rig, client: aiohttp.ClientSession
    ) -> None:
        """Scraping again without fetches leaves the counters; a new fetch adds one."""
        await rig.service.refresh()
        first = value(await scrape(client), "energyd_fetches_total", provider="octopus_agile")
        second = value(await scrape(client), "energyd_fetches_total", provider="octopus_agile")
        await rig.service.refresh()
        third = value(await scrape(client), "energyd_fetches_total", provider="octopus_agile")
        assert (1, 1, 2) == (first, second, third)

    async def test_unknown_price_is_absent_not_zero(self, client: aiohttp.ClientSession) -> None:
        """Before any fetch there is no current-price sample at all."""
        families = await scrape(client)
        assert [] == families["energyd_current_price"].samples
        assert 0 == value(families, "energyd_fetches_total", provider="octopus_agile")

    def test_label_values_are_escaped(self) -> None:
        """Quotes, backslashes and newlines in label values survive a strict parser."""
        metric = Metric("energyd_test", 'help with "quotes" and \\ backslash', "gauge")
        weird = 'a"b\\c\nd'
        metric.add(1.5, file=weird)
        (family,) = text_string_to_metric_families(render([metric]))
        assert [({"file": weird}, 1.5)] == [(s.labels, s.value) for s in family.samples]


def run_at(seconds: int, outcome: FetchOutcome = FetchOutcome.OK) -> FetchRun:
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    return FetchRun("p", "C", start, outcome)


class TestFetchCounting:
    def test_counts_runs_after_the_mark(self) -> None:
        """Runs newer than the mark are new; the mark moves to the newest."""
        runs = [run_at(30), run_at(20), run_at(10)]
        fresh, mark = unseen_runs(runs, Mark(run_at(15).started_at))
        assert ([run_at(30), run_at(20)], Mark(run_at(30).started_at, 1)) == (fresh, mark)

    def test_runs_at_the_same_instant_are_counted_once(self) -> None:
        """A second run in the same millisecond as the mark is new; a seen one is not."""
        at = run_at(10).started_at
        fresh, mark = unseen_runs([run_at(10), run_at(10)], Mark(at, 1))
        assert ([run_at(10)], Mark(at, 2)) == (fresh, mark)
        fresh, mark = unseen_runs([run_at(10), run_at(10)], mark)
        assert ([], Mark(at, 2)) == (fresh, mark)
