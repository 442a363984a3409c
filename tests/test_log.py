"""Log lines as rendered (energyd.log): floats rounded; the plugin kit's retries as fields."""

from __future__ import annotations

import io
import json
import logging
import random
from collections.abc import Iterator

import aiohttp
import pytest
import structlog

from energyd.log import configure_logging, rounded
from energyd.providers.kit.http import HttpApi
from energyd.providers.kit.retry import Retrier, RetryPolicy
from tests.support.http_mock import CompatAioresponses

BASE = "https://api.example/v1"


@pytest.fixture
def rendered() -> Iterator[io.StringIO]:
    """JSON log lines of this test, in a buffer; the logging set-up restored after."""
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("debug", "json", stream)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        structlog.reset_defaults()


def events(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


class TestFloats:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (0.123456789, 0.1235),
            (12.3456789, 12.35),
            (1930.4123, 1930.0),
            (123456.789, 123457.0),
            (0.000123456, 0.0001235),
            (-2.718281828, -2.718),
            (0.0, 0.0),
            (7, 7),
        ],
    )
    def test_four_significant_digits(self, value: float, expected: float) -> None:
        """A float keeps 4 significant digits, and its whole integer part."""
        assert expected == rounded(value)

    def test_rendered_events_are_rounded(self, rendered: io.StringIO) -> None:
        """Floats of an event (also in lists and dicts) are rounded in the rendered line,
        from structlog and from the standard library alike; other values are untouched."""
        structlog.get_logger("energyd.test").info(
            "test.done", seconds=0.123456789, parts=[1.0000001, {"ms": 2.345678}], ok=True
        )
        logging.getLogger("aiohttp.test").info("plain %s", 1)
        first, second = events(rendered)
        assert (0.1235, [1.0, {"ms": 2.346}], True) == (
            first["seconds"],
            first["parts"],
            first["ok"],
        )
        assert "plain 1" == second["event"]


class TestPluginLogs:
    async def test_a_retry_carries_its_request_as_fields(self) -> None:
        """provider.retry names method, url and status as fields of their own, not baked
        into a text (``what: "GET https://..."``)."""

        async def sleep(_: float) -> None:
            pass

        retrier = Retrier(RetryPolicy(base_delay=0.5), rng=random.Random(1), sleep=sleep)
        with CompatAioresponses() as mock, structlog.testing.capture_logs() as logs:
            mock.get(f"{BASE}/rates", status=503)
            mock.get(f"{BASE}/rates", payload={"ok": True})
            async with aiohttp.ClientSession() as session:
                api = HttpApi(session, base_url=BASE, retrier=retrier, name="demo")
                assert {"ok": True} == await api.get_json("/rates")
        (retry,) = [e for e in logs if e["event"] == "provider.retry"]
        assert ("GET", f"{BASE}/rates", 503, 1, "ProviderServerError") == (
            retry["method"],
            retry["url"],
            retry["status"],
            retry["attempt"],
            retry["error"],
        )
        assert "what" not in retry
