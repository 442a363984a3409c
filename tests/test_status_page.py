"""The status page in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

Needs ``apt-get install chromium`` and the ``playwright`` Python package; never
``playwright install`` (no browser downloads). ``CHROMIUM=/path`` picks another binary.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright
from pydantic import SecretStr

from energyd.api.ports import BrokerStatus, FiguresSource
from energyd.config import HttpSettings, load_settings
from energyd.http import HttpServer, make_http_app
from energyd.mqtt.client import MqttStats
from tests.support.fake_octopus import RunningFake, make_app, serve
from tests.support.http_rig import PLUGIN, Rig, StubFigures, http_rig
from tests.support.rig import daemon_parts

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path("/tmp/status-page.png")
PHONE_SHOT = Path("/tmp/status-page-phone.png")
#: A phone's screen (an iPhone 12-15 in CSS pixels).
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1200, "height": 900}


def negative_on_the_hour(region: str, valid_from: datetime) -> float:
    """Prices with a negative slot every six hours, so the chart always has some."""
    return -2.5 if valid_from.hour % 6 == 0 and valid_from.minute == 0 else 8.0 + valid_from.hour


@pytest.fixture
async def fake() -> AsyncIterator[RunningFake]:
    async with serve(make_app(negative_on_the_hour)) as running:
        yield running


@pytest.fixture
async def rig(tmp_path: Path, fake: RunningFake) -> AsyncIterator[Rig]:
    async with http_rig(tmp_path, fake) as built:
        (run,) = await built.service.refresh()
        assert "ok" == run.outcome.value
        yield built


@pytest.fixture
def chromium() -> str:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} not found: the status page tests need apt-get install chromium")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class DownBroker:
    """A broker connection that dropped ``since`` with ``error``."""

    since: datetime
    error: str
    connected: bool = False

    @property
    def stats(self) -> MqttStats:
        return MqttStats(disconnects=1, last_error=self.error, disconnected_since=self.since)


@contextlib.asynccontextmanager
async def page_on(
    browser: Browser,
    rig: Rig,
    *,
    token: str | None = None,
    figures: FiguresSource | None = None,
    broker: BrokerStatus | None = None,
    phone: bool = False,
) -> AsyncIterator[tuple[Page, list[str]]]:
    """The status page of a fresh server, opened and loaded; and the page's errors so far."""
    settings = HttpSettings(host="127.0.0.1", token=None if token is None else SecretStr(token))
    operations = rig.operations(figures=figures, broker=broker)
    app = make_http_app(operations=operations, settings=settings)
    async with HttpServer(app, host="127.0.0.1", port=0) as server:
        screen: Any = PHONE if phone else DESKTOP
        context = await browser.new_context(
            viewport=screen, is_mobile=phone, has_touch=phone, device_scale_factor=3 if phone else 1
        )
        try:
            page = await context.new_page()
            page.set_default_timeout(15_000)
            errors: list[str] = []

            def on_console(message: ConsoleMessage) -> None:
                if message.type == "error":
                    errors.append(message.text)

            page.on("console", on_console)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(f"http://127.0.0.1:{server.port}/")
            await page.wait_for_selector('body[data-loaded="true"]')
            yield page, errors
        finally:
            await context.close()


async def stored_day(rig: Rig, offset_days: int) -> list[str]:
    spec = rig.service.spec()
    calendar = rig.service.calendar(spec)
    day = calendar.local_date(datetime.now(UTC)) + timedelta(days=offset_days)
    start, end = calendar.day_bounds(day)
    slots = await rig.store.slots(spec.key, spec.region, start, end)
    return [slot.valid_from.isoformat().replace("+00:00", "Z") for slot in slots]


async def bars(page: Page, chart: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await page.eval_on_selector_all(
        f"#{chart} rect.bar",
        """els => els.map(e => ({
            start: e.dataset.start, price: Number(e.dataset.price),
            top: e.y.baseVal.value, bottom: e.y.baseVal.value + e.height.baseVal.value,
            current: e.classList.contains('current')}))""",
    )
    return found


async def zero_line(page: Page, chart: str) -> float:
    y: float = await page.eval_on_selector(f"#{chart} line.zero", "e => e.y1.baseVal.value")
    return y


class TestPage:
    async def test_chart_has_one_bar_per_stored_slot(self, browser: Browser, rig: Rig) -> None:
        """Today's and tomorrow's charts hold exactly the stored slots, the current one marked."""
        async with page_on(browser, rig) as (page, errors):
            today = await bars(page, "chart-today")
            assert await stored_day(rig, 0) == [bar["start"] for bar in today]
            tomorrow = await bars(page, "chart-tomorrow")
            assert await stored_day(rig, 1) == [bar["start"] for bar in tomorrow]
            (current,) = [bar for bar in today if bar["current"]]
            started = datetime.fromisoformat(current["start"])
            assert timedelta(0) <= datetime.now(UTC) - started < timedelta(minutes=31)
            desc = await page.text_content("#chart-today-desc")
            assert (desc or "").startswith(f"Today: {len(today)} prices")
            assert [] == errors

    async def test_negative_prices_sit_below_the_zero_line(
        self, browser: Browser, rig: Rig
    ) -> None:
        """Negative bars hang below the zero line, positive ones stand on it."""
        async with page_on(browser, rig) as (page, _):
            zero = await zero_line(page, "chart-today")
            today = await bars(page, "chart-today")
            negative = [bar for bar in today if bar["price"] < 0]
            positive = [bar for bar in today if bar["price"] > 0]
            assert negative
            assert all(abs(bar["top"] - zero) < 0.01 < bar["bottom"] - zero for bar in negative)
            assert all(abs(bar["bottom"] - zero) < 0.01 for bar in positive)

    async def test_plugins_and_health_are_shown(self, browser: Browser, rig: Rig) -> None:
        """Each plugin file and provider appears with its status, versions and health."""
        async with page_on(browser, rig) as (page, _):
            row = page.locator(f'tr[data-plugin="{PLUGIN}"]')
            assert "up_to_date" == await row.get_attribute("data-status")
            version = rig.loader.metadata("octopus_agile").version
            assert f"{PLUGIN}\tOctopus" in await row.inner_text()
            assert version in await row.inner_text()
            assert await page.locator(f'button[data-update="{PLUGIN}"]').is_disabled()
            health = await page.locator('tr[data-provider="octopus_agile"]').get_attribute(
                "data-health"
            )
            expected = (await rig.service.health(rig.service.spec())).state.value
            assert expected == health


class TestActions:
    async def test_update_button_updates_the_plugin_and_audits(
        self, browser: Browser, rig: Rig
    ) -> None:
        """Pressing Update on an outdated plugin brings it up to date and writes an audit record."""
        await rig.make_plugin_older()
        async with page_on(browser, rig) as (page, errors):
            row = f'tr[data-plugin="{PLUGIN}"]'
            await page.wait_for_selector(f'{row}[data-status="update_available"]')
            await page.click(f'button[data-update="{PLUGIN}"]')
            await page.wait_for_selector(f'{row}[data-status="up_to_date"]')
            assert (await page.inner_text("#result")).startswith(f"Updated {PLUGIN} (0.0.1 → ")
            await page.wait_for_selector("#audit td:text('http')")
            await page.screenshot(path=str(SCREENSHOT), full_page=True)
            assert [] == errors
        newest = (await rig.store.audit_log(1))[0]
        bundled = rig.loader.metadata("octopus_agile").version
        assert ("update", PLUGIN, "0.0.1", bundled, "http", True) == (
            newest.action,
            newest.file,
            newest.version_before,
            newest.version_after,
            newest.actor,
            newest.ok,
        )

    async def test_update_all_button(self, browser: Browser, rig: Rig) -> None:
        """Pressing Update all updates every outdated plugin, audited as update_all by http."""
        await rig.make_plugin_older()
        async with page_on(browser, rig) as (page, _):
            await page.click("#update-all")
            await page.wait_for_selector(f'tr[data-plugin="{PLUGIN}"][data-status="up_to_date"]')
        newest = (await rig.store.audit_log(1))[0]
        assert ("update_all", PLUGIN, "0.0.1", "http") == (
            newest.action,
            newest.file,
            newest.version_before,
            newest.actor,
        )

    async def test_refresh_button_fetches(self, browser: Browser, rig: Rig) -> None:
        """Pressing Refresh fetches prices and reports the run."""
        runs_before = len(await rig.store.fetch_runs())
        async with page_on(browser, rig) as (page, _):
            await page.click("#refresh")
            await page.wait_for_selector("#result:text('prices fetched')")
        assert runs_before + 1 == len(await rig.store.fetch_runs())

    async def test_token_is_asked_for_and_used(self, browser: Browser, rig: Rig) -> None:
        """On a token-protected server the page asks for the token, then the update works."""
        await rig.make_plugin_older()
        async with page_on(browser, rig, token="s3cret") as (page, _):
            assert await page.is_visible("#token")
            await page.click(f'button[data-update="{PLUGIN}"]')
            await page.wait_for_selector("#result.error:text('needs an API token')")
            row = f'tr[data-plugin="{PLUGIN}"]'
            assert "update_available" == await page.get_attribute(row, "data-status")
            await page.fill("#token", "s3cret")
            await page.click(f'button[data-update="{PLUGIN}"]')
            await page.wait_for_selector(f'{row}[data-status="up_to_date"]')
            assert "s3cret" == await page.evaluate("sessionStorage.getItem('energyd.token')")
        # The refused attempt never reached the plugin manager: no audit record for it.
        assert [("update", "http"), ("reload", "test")] == [
            (r.action, r.actor) for r in await rig.store.audit_log(3)
        ]


class TestFigures:
    async def test_level_and_windows_are_shown(self, browser: Browser, rig: Rig) -> None:
        """The current level is named and each configured window is shaded on the chart."""
        spec = rig.service.spec()
        calendar = rig.service.calendar(spec)
        start, _ = calendar.day_bounds(calendar.local_date(datetime.now(UTC)))
        window_start, window_end = start + timedelta(hours=2), start + timedelta(hours=4)

        figures = StubFigures(
            {
                "level": {"level": "cheap", "price": 5.0},
                "stats": {},
                "windows": [
                    {
                        "name": "night_charge",
                        "available": True,
                        "start": window_start.isoformat(),
                        "end": window_end.isoformat(),
                        "mean": 9.5,
                        "active": False,
                    },
                    {"name": "unknown_yet", "available": False, "start": None, "end": None},
                ],
            }
        )
        async with page_on(browser, rig, figures=figures) as (page, errors):
            assert "Price level: cheap" == await page.inner_text("#level")
            shaded = await page.eval_on_selector_all(
                "#chart-today rect.window", "els => els.map(e => e.dataset.window)"
            )
            assert ["night_charge"] == shaded
            assert "night charge:" in await page.inner_text("#windows")
            assert [] == errors


class TestFaults:
    async def test_a_loop_block_and_a_broken_topic_are_shown(
        self, browser: Browser, rig: Rig
    ) -> None:
        """The provider's row says its plugin blocked the event loop, for how long and where,
        and names a derived topic that could not be built."""

        async def fetch_prices() -> None:
            time.sleep(0.6)  # noqa: ASYNC251 - a plugin step holding the loop

        faults = rig.service.faults
        await faults.run("octopus_agile", "fetch_prices", fetch_prices)
        faults.set_derived_errors("octopus_agile", {"emhass": "ValueError: slot lengths"})
        async with page_on(browser, rig) as (page, errors):
            row = page.locator('tr[data-provider="octopus_agile"]')
            assert "degraded" == await row.get_attribute("data-health")
            block = row.locator(".loop-block")
            assert "fetch_prices" == await block.get_attribute("data-loop-block")
            text = await block.inner_text()
            assert re.match(r"Blocked the event loop for 0\.[67] s in fetch_prices \(", text)
            broken = row.locator(".derived-errors")
            assert "Not published: emhass (ValueError: slot lengths)" == await broken.inner_text()
            assert [] == errors


async def fail_fetches(rig: Rig) -> str:
    """Make the next refresh fail (prices stay known: degraded); the error it recorded."""
    rig.fake.state.faults.extend([500] * 20)
    (run,) = await rig.service.refresh()
    rig.fake.state.faults.clear()
    assert ("error", True) == (run.outcome.value, bool(run.error))
    return str(run.error)


class TestProblems:
    async def test_broker_down_is_not_ok(self, browser: Browser, rig: Rig) -> None:
        """With the broker down the headline says not ok (as /readyz and health do), the
        broker line says since when, and the banner names it."""
        since = datetime.now(UTC) - timedelta(minutes=5)
        broker = DownBroker(since, "[Errno 111] Connection refused")
        async with page_on(browser, rig, broker=broker) as (page, errors):
            assert "false" == await page.get_attribute("#summary", "data-ok")
            assert "health: not ok" == await page.inner_text("#summary .headline")
            assert "(MQTT broker down)" in await page.inner_text("#summary")
            assert "disconnected" == await page.get_attribute("#broker", "data-broker")
            line = await page.inner_text("#broker")
            assert line.startswith("MQTT broker: disconnected since ")
            assert "(5 min ago)" in line
            assert "Connection refused" in line
            item = page.locator('#banner li[data-problem="broker"]')
            assert await item.is_visible()
            assert "MQTT broker down: since " in await item.inner_text()
            ready = await page.request.get(page.url + "readyz")
            health = await (await page.request.get(page.url + "api/health")).json()
            assert (503, False) == (ready.status, health["ok"])
            assert [] == errors

    async def test_all_well_says_ok_and_no_banner(self, browser: Browser, rig: Rig) -> None:
        """Healthy, without an MQTT client: health ok, no banner, the broker not used."""
        async with page_on(browser, rig) as (page, errors):
            assert "health: ok" == await page.inner_text("#summary .headline")
            assert await page.is_hidden("#banner")
            assert "absent" == await page.get_attribute("#broker", "data-broker")
            assert [] == errors

    async def test_provider_error_and_plugin_load_error_in_the_banner(
        self, browser: Browser, rig: Rig
    ) -> None:
        """A failing provider's error, when it last failed, and a plugin that does not load
        are in the banner at the top."""
        error = await fail_fetches(rig)
        (rig.settings.plugin_dir / "broken_provider.py").write_text("def broken(:\n")
        await rig.manager.reload("test")
        async with page_on(browser, rig) as (page, errors):
            provider = await page.inner_text('#banner li[data-problem="provider"]')
            assert provider.startswith("octopus_agile: degraded: last fetch failed: ")
            assert error in provider
            assert "Last failed attempt " in provider
            plugin = await page.inner_text('#banner li[data-problem="plugin"]')
            assert plugin.startswith("Plugin broken_provider.py: failed to load: SyntaxError")
            assert [] == errors

    async def test_the_banner_says_when_a_failing_provider_is_tried_next(
        self, browser: Browser, rig: Rig
    ) -> None:
        """With the scheduler's next attempt known, the banner names it."""
        await fail_fetches(rig)
        soon = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
        rig.service.planned("octopus_agile", soon)
        async with page_on(browser, rig) as (page, errors):
            provider = await page.inner_text('#banner li[data-problem="provider"]')
            assert "; next try " in provider
            assert "(in 5 min)" in provider or "(in 4 min)" in provider
            assert [] == errors


class TestPhone:
    async def test_fits_a_phone_with_the_banner_on_the_first_screen(
        self, browser: Browser, rig: Rig
    ) -> None:
        """At 390 px: no sideways scrolling of the page, the error banner near the top, the
        text (chart labels included) at a readable size."""
        await fail_fetches(rig)
        async with page_on(browser, rig, phone=True) as (page, errors):
            assert 390 == await page.evaluate("window.innerWidth")
            assert await page.evaluate("document.documentElement.scrollWidth") <= 390
            box = await page.locator('#banner li[data-problem="provider"]').bounding_box()
            assert box is not None
            assert box["y"] < 200
            body = await page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
            assert body >= 16
            labels = await page.eval_on_selector_all(
                "#chart-today text", "els => els.map(e => e.getBoundingClientRect().height)"
            )
            assert labels
            assert min(labels) >= 9, labels
            await page.screenshot(path=str(PHONE_SHOT), full_page=True)
            assert [] == errors


class TestRegions:
    async def test_region_is_named(self, browser: Browser, rig: Rig) -> None:
        """The region shows with its name, C (London), in the headline and the table."""
        async with page_on(browser, rig) as (page, _):
            assert ", region C (London), " in await page.inner_text("#summary")
            row = page.locator('tr[data-provider="octopus_agile"] td').nth(2)
            assert "C (London)" == await row.inner_text()


class TestFailover:
    async def test_a_fallback_serving_is_shown_with_since_when(
        self, browser: Browser, tmp_path: Path, fake: RunningFake
    ) -> None:
        """The primary never got a price (its source failed), its fallback did: the row says
        prices come from the fallback and since when, and the banner names the outage."""
        knobs = {"base_url": fake.url, "retry_attempts": 1, "retry_budget_seconds": 1}
        settings = load_settings(
            None,
            config_dir=tmp_path / "config",
            energy={
                "provider_id": "primary",
                "providers": {
                    "primary": {
                        "plugin": "octopus_agile",
                        "region": "C",
                        "fallbacks": [{"provider": "backup", "cross_check": False}],
                        **knobs,
                    },
                    "backup": {"plugin": "octopus_agile", "region": "A", **knobs},
                },
            },
            refresh={"fetch_timeout_seconds": 10},
        )
        async with daemon_parts(settings) as parts:
            rig = Rig(settings, parts.loader, parts.store, parts.service, parts.manager, fake)
            fake.state.faults.extend([500] * 20)
            (failed,) = await rig.service.refresh("primary")
            fake.state.faults.clear()
            assert "error" == failed.outcome.value
            (run,) = await rig.service.refresh("backup")
            assert "ok" == run.outcome.value
            async with page_on(browser, rig) as (page, errors):
                row = page.locator('tr[data-provider="primary"]')
                assert "degraded" == await row.get_attribute("data-health")
                serving = row.locator(".failover")
                assert "backup" == await serving.get_attribute("data-serving")
                assert (await serving.inner_text()).startswith("Prices from fallback backup since")
                banner = await page.inner_text("#banner")
                assert "prices from fallback backup since" in banner
                assert [] == errors
