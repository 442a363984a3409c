"""One fetch through a real loaded plugin into a real SQLite store: all or nothing, and a
throttled source's Retry-After kept on the run for the planner."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from energyd.core.fetching import MAX_RETRY_AFTER, fetch_into_store
from energyd.core.store import PriceStore
from energyd.domain.records import FetchOutcome
from energyd.providers.base import EnergyPriceProvider
from energyd.providers.loader import EnergyProviderLoader
from tests.support.plugin_files import good_plugin, write_plugin

START = datetime(2026, 11, 25, 0, tzinfo=UTC)
END = START + timedelta(hours=2)


def throttled_plugin(retry_after: str) -> str:
    """A plugin answering every fetch with HTTP 429 and ``retry_after`` (a Python expression)."""
    return textwrap.dedent(
        f"""\
        from providers.energy.base import (
            EnergyPriceProvider,
            EnergyProviderMetadata,
            ProviderRateLimitError,
        )

        __version__ = "1.0.0"


        class Throttled(EnergyPriceProvider):
            def get_metadata(self):
                return EnergyProviderMetadata(
                    provider_id="throttled", display_name="t", version=__version__
                )

            def validate_config(self, config):
                return {{}}

            async def fetch_prices(self, region, start_utc, end_utc, config):
                raise ProviderRateLimitError("HTTP 429 Too Many Requests", {retry_after})
        """
    )


def load(tmp_path: Path, name: str, source: str, provider_id: str) -> EnergyPriceProvider:
    bundled = tmp_path / "bundled"
    bundled.mkdir(exist_ok=True)
    write_plugin(bundled, name, source)
    loader = EnergyProviderLoader(tmp_path / "config", bundled)
    loader.deploy_bundled_if_empty()
    loader.load_all()
    return loader.providers[provider_id]


async def fetch(store: PriceStore, plugin: EnergyPriceProvider, key: str):  # type: ignore[no-untyped-def]
    return await fetch_into_store(
        store,
        plugin,
        key=key,
        region="C",
        currency="GBP",
        config={},
        start=START,
        end=END,
        timeout=5,
    )


class TestFetch:
    async def test_every_slot_stored(self, tmp_path: Path) -> None:
        """A good fetch stores all four half hours and records an ok run."""
        plugin = load(tmp_path, "demo_provider.py", good_plugin("demo"), "demo")
        async with PriceStore(tmp_path / "p.db") as store:
            run = await fetch(store, plugin, "demo")
            assert (FetchOutcome.OK, 4, None) == (run.outcome, run.slots, run.retry_after)
            assert 4 == len(await store.slots("demo", "C", START, END))


class TestRetryAfter:
    async def test_retry_after_is_kept_on_the_run(self, tmp_path: Path) -> None:
        """A 429 with Retry-After 120 is an error run that says 120 s, stored nothing."""
        plugin = load(tmp_path, "throttled_provider.py", throttled_plugin("120"), "throttled")
        async with PriceStore(tmp_path / "p.db") as store:
            run = await fetch(store, plugin, "throttled")
            assert (FetchOutcome.ERROR, "ProviderRateLimitError", 120.0) == (
                run.outcome,
                run.error_type,
                run.retry_after,
            )
            assert 120.0 == run.as_json()["retry_after"]
            assert [] == await store.slots("throttled", "C", START, END)

    @pytest.mark.parametrize("nonsense", ["None", "-5", 'float("nan")', '"soon"', "True"])
    async def test_nonsense_retry_after_is_ignored(self, tmp_path: Path, nonsense: str) -> None:
        """A missing, negative, NaN or non-numeric Retry-After means energyd's own backoff."""
        plugin = load(tmp_path, "throttled_provider.py", throttled_plugin(nonsense), "throttled")
        async with PriceStore(tmp_path / "p.db") as store:
            run = await fetch(store, plugin, "throttled")
        assert "ProviderRateLimitError" == run.error_type
        assert run.retry_after is None
        assert "retry_after" not in run.as_json()

    async def test_a_huge_retry_after_is_capped(self, tmp_path: Path) -> None:
        """A source asking for a week is asked again after a day."""
        plugin = load(tmp_path, "throttled_provider.py", throttled_plugin("7 * 86400"), "throttled")
        async with PriceStore(tmp_path / "p.db") as store:
            run = await fetch(store, plugin, "throttled")
        assert MAX_RETRY_AFTER == run.retry_after


def not_published_plugin(retry_at: str) -> str:
    """A plugin whose source has not published yet (``retry_at``: a Python expression)."""
    return textwrap.dedent(
        f"""\
        from datetime import UTC, datetime, timedelta

        from providers.energy.base import (
            EnergyPriceProvider,
            EnergyProviderMetadata,
            ProviderNotPublishedError,
        )

        __version__ = "1.0.0"


        class NotYet(EnergyPriceProvider):
            def get_metadata(self):
                return EnergyProviderMetadata(
                    provider_id="notyet", display_name="n", version=__version__
                )

            def validate_config(self, config):
                return {{}}

            async def fetch_prices(self, region, start_utc, end_utc, config):
                raise ProviderNotPublishedError("HTTP 404: not published yet", retry_at={retry_at})
        """
    )


class TestNotPublished:
    async def test_a_waiting_run_not_an_error(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A "not published yet" answer is recorded as waiting (no fault), logged at info, stores
        nothing; the source's expected time becomes the run's retry_after."""
        when = "datetime.now(UTC) + timedelta(minutes=10)"
        plugin = load(tmp_path, "notyet_provider.py", not_published_plugin(when), "notyet")
        async with PriceStore(tmp_path / "p.db") as store:
            run = await fetch(store, plugin, "notyet")
            assert (FetchOutcome.WAITING, "ProviderNotPublishedError") == (
                run.outcome,
                run.error_type,
            )
            assert run.retry_after is not None
            assert 590 < run.retry_after <= 600
            stored = await store.last_fetch("notyet", "C")
            assert stored is not None
            assert FetchOutcome.WAITING == stored.outcome
            assert [] == await store.slots("notyet", "C", START, END)
        out = capsys.readouterr().out
        assert "prices.not_published" in out
        assert "warning" not in out
        assert "fetch_failed" not in out

    async def test_no_expected_time_means_the_usual_backoff(self, tmp_path: Path) -> None:
        plugin = load(tmp_path, "notyet_provider.py", not_published_plugin("None"), "notyet")
        async with PriceStore(tmp_path / "p.db") as store:
            run = await fetch(store, plugin, "notyet")
        assert (FetchOutcome.WAITING, None) == (run.outcome, run.retry_after)
