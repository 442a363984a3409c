"""A conformance suite for plugins, run against recorded responses (for a plugin's tests).

::

    from energyd.providers.kit.testing import Conformance, Recorded

    CASE = Conformance(
        provider=module.MyProvider,                 # a class or factory: a fresh one per check
        region="DE-LU",
        config={"region": "DE-LU"},
        window=(start_utc, end_utc),
        recorded=[Recorded.file(ENDPOINT, FIXTURES / "price.json")],
        endpoint=ENDPOINT,                          # where the error cases answer (a regex)
        bad_configs=[{"region": "XX"}],
        error_config={"region": "DE-LU", "retry_attempts": 1},   # no retries: quick
        expect={"404": ProviderEmptyError},         # where this market differs from the table
    )

    class TestConformance:
        def test_metadata(self): CASE.check_metadata()
        def test_config(self): CASE.check_config()
        async def test_fetch(self): await CASE.check_fetch()
        @pytest.mark.parametrize("case", CASE.error_cases())
        async def test_error(self, case): await CASE.check_error(case)

Each check raises ``AssertionError`` with the reason. HTTP is mocked at the transport with
aioresponses, imported lazily: it is a test dependency, not one of energyd's.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from energyd.domain.calendar import MarketCalendar
from energyd.exceptions import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderDataError,
    ProviderError,
    ProviderFetchError,
    ProviderNotFoundError,
    ProviderRateLimitError,
    ProviderServerError,
    SlotValidationError,
)
from energyd.providers.contract import EnergyPriceProvider, EnergyPriceSlot, EnergyProviderMetadata
from energyd.providers.validation import validate_slots

__all__ = [
    "ERROR_CASES",
    "Conformance",
    "ErrorCase",
    "Recorded",
    "aioresponses_class",
    "mock_http",
]

_PROVIDER_ID = re.compile(r"^[a-z0-9_]+$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
Url = str | re.Pattern[str]


class _CompatResponse(aiohttp.ClientResponse):
    """aiohttp 3.14 made ``stream_writer`` a required ClientResponse argument; aioresponses
    0.7.9 (the latest release) does not pass it (pnuckowski/aioresponses#289)."""

    def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
        if _NEEDS_STREAM_WRITER:
            kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(method, url, **kwargs)


_NEEDS_STREAM_WRITER = "stream_writer" in inspect.signature(aiohttp.ClientResponse).parameters


@functools.cache
def aioresponses_class() -> type[Any]:
    """aioresponses, subclassed so that its canned responses work with aiohttp 3.14+."""
    from aioresponses import aioresponses  # a test dependency: imported only when used

    class CompatAioresponses(aioresponses):
        """aioresponses whose canned responses work with aiohttp 3.14."""

        # Forwards every keyword unchanged; only the default response class differs.
        def add(self, url: Any, method: str = "GET", **kwargs: Any) -> None:  # type: ignore[override]
            if kwargs.get("response_class") is None:
                kwargs["response_class"] = _CompatResponse
            super().add(url, method, **kwargs)

    return CompatAioresponses


def mock_http() -> Any:
    """A fresh aioresponses mock (use as a context manager) that works with aiohttp 3.14+."""
    return aioresponses_class()()


@dataclass(frozen=True, slots=True)
class Recorded:
    """One canned response: ``url`` (a regex matches any query), status, body, headers."""

    url: Url
    body: bytes | str = b""
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    method: str = "GET"
    exception: Exception | None = None

    @classmethod
    def file(cls, url: Url, path: Path, **options: Any) -> Recorded:
        """A response whose body is the recorded file at ``path``."""
        return cls(url, path.read_bytes(), **options)

    def register(self, mock: Any) -> None:
        """Add this response to an aioresponses ``mock`` (answering every matching request)."""
        body = self.body if isinstance(self.body, bytes) else self.body.encode()
        mock.add(
            self.url,
            self.method,
            status=self.status,
            body=body,
            headers=dict(self.headers),
            content_type=self.content_type,
            exception=self.exception,
            repeat=True,
        )


@dataclass(frozen=True, slots=True)
class ErrorCase:
    """A failure the endpoint answers with, and the error the plugin must raise for it."""

    expected: type[ProviderError]
    status: int = 200
    body: bytes = b"{}"
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    exception: Exception | None = None
    retry_after: float | None = None


#: What every HTTP plugin must do; a plugin overrides entries with ``Conformance.expect``.
ERROR_CASES: Mapping[str, ErrorCase] = {
    "404": ErrorCase(ProviderNotFoundError, 404, b'{"detail": "Not found."}'),
    "401": ErrorCase(ProviderAuthError, 401, b'{"detail": "unauthorised"}'),
    "403": ErrorCase(ProviderAuthError, 403, b"<html>Forbidden</html>", content_type="text/html"),
    "429": ErrorCase(
        ProviderRateLimitError, 429, b"slow down", {"Retry-After": "7200"}, "text/plain", None, 7200
    ),
    "500": ErrorCase(ProviderServerError, 500, b"oops", content_type="text/plain"),
    "not_json": ErrorCase(
        ProviderDataError, 200, b"<html><body>maintenance", content_type="text/html"
    ),
    "connection": ErrorCase(
        ProviderConnectionError, exception=aiohttp.ClientConnectionError("refused")
    ),
    "timeout": ErrorCase(ProviderConnectionError, exception=TimeoutError()),
}


def _fail(message: str) -> AssertionError:
    return AssertionError(message)


@dataclass(frozen=True)
class Conformance:
    """The inputs of the suite for one plugin; each ``check_*`` is one test."""

    provider: EnergyPriceProvider | Callable[[], EnergyPriceProvider]
    region: str
    config: Mapping[str, Any]
    window: tuple[datetime, datetime]
    recorded: Sequence[Recorded]
    endpoint: Url
    bad_configs: Sequence[Mapping[str, Any]] = ()
    error_config: Mapping[str, Any] | None = None
    expect: Mapping[str, type[ProviderError]] = field(default_factory=dict)
    skip: Sequence[str] = ()
    timeout: float = 10.0

    def make(self) -> EnergyPriceProvider:
        """A provider instance: a fresh one when ``provider`` is a class or factory."""
        if isinstance(self.provider, EnergyPriceProvider):
            return self.provider
        made = self.provider()
        if not isinstance(made, EnergyPriceProvider):
            raise _fail(f"provider factory returned {type(made).__name__}")
        return made

    # -- metadata and config -----------------------------------------------------------------

    def check_metadata(self) -> EnergyProviderMetadata:
        """Metadata is complete and usable by the daemon."""
        meta = self.make().get_metadata()
        if not isinstance(meta, EnergyProviderMetadata):
            raise _fail(f"get_metadata() returned {type(meta).__name__}")
        problems: list[str] = []
        if not isinstance(meta.provider_id, str) or not _PROVIDER_ID.fullmatch(meta.provider_id):
            problems.append(f"provider_id {meta.provider_id!r} is not [a-z0-9_]+")
        if not isinstance(meta.version, str) or not meta.version.strip():
            problems.append(f"version {meta.version!r} is not a non-empty string")
        if not isinstance(meta.currency, str) or not _CURRENCY.fullmatch(meta.currency):
            problems.append(f"currency {meta.currency!r} is not an ISO 4217 code")
        minutes = meta.slot_minutes
        if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes <= 0:
            problems.append(f"slot_minutes {minutes!r} is not a positive whole number")
        try:
            ZoneInfo(meta.market_timezone)
            MarketCalendar.of(meta.market_timezone, meta.day_start_local, meta.publish_time_local)
        except (TypeError, ValueError, KeyError) as exc:
            problems.append(f"market calendar: {type(exc).__name__}: {exc}")
        regions = tuple(meta.supported_regions)
        if not all(isinstance(region, str) and region for region in regions):
            problems.append("supported_regions holds an empty or non-string entry")
        extra = set(meta.region_names) - set(regions)
        if extra:
            problems.append(f"region_names not in supported_regions: {sorted(extra)}")
        if regions and self.region not in regions:
            problems.append(f"test region {self.region!r} is not in supported_regions")
        try:
            json.dumps(dict(meta.config_schema), allow_nan=False)
        except (TypeError, ValueError) as exc:
            problems.append(f"config_schema is not JSON: {exc}")
        if meta.config_schema and meta.config_schema.get("type") != "object":
            problems.append("config_schema is not an object schema")
        if problems:
            raise _fail("metadata: " + "; ".join(problems))
        return meta

    def check_config(self) -> None:
        """The good config validates clean; each bad one yields ``{field: reason}``."""
        provider = self.make()
        good = provider.validate_config(dict(self.config))
        if not isinstance(good, dict) or good:
            raise _fail(f"validate_config(good config) returned {good!r}, expected {{}}")
        for bad in self.bad_configs:
            errors = provider.validate_config(dict(bad))
            if not isinstance(errors, dict) or not errors:
                raise _fail(f"validate_config({dict(bad)!r}) found nothing wrong: {errors!r}")
            if not all(isinstance(k, str) and isinstance(v, str) for k, v in errors.items()):
                raise _fail(f"validate_config({dict(bad)!r}) is not {{str: str}}: {errors!r}")

    # -- fetching ----------------------------------------------------------------------------

    async def _fetch(
        self, responses: Sequence[Recorded], config: Mapping[str, Any]
    ) -> list[EnergyPriceSlot]:
        provider = self.make()
        with mock_http() as mock:
            for response in responses:
                response.register(mock)
            async with aiohttp.ClientSession() as session:
                provider.attach(session, timeout=self.timeout)
                async with asyncio.timeout(self.timeout):
                    return await provider.fetch_prices(
                        self.region, self.window[0], self.window[1], dict(config)
                    )

    async def check_fetch(self) -> list[EnergyPriceSlot]:
        """The recorded answers give valid slots: aware, whole minutes, ascending, no overlap,
        overlapping the window, in the metadata's currency. Returns them for further checks."""
        currency = self.make().get_metadata().currency
        slots = await self._fetch(self.recorded, self.config)
        if not isinstance(slots, list) or not slots:
            raise _fail(f"fetch_prices returned {slots!r}, expected a non-empty list")
        start, end = self.window
        try:
            checked = validate_slots(slots, start, end, currency=currency)
        except SlotValidationError as exc:
            raise _fail(f"slots refused by the daemon: {exc}") from exc
        if [slot.valid_from for slot in checked] != [slot.valid_from for slot in slots]:
            raise _fail("slots are not in ascending order")
        outside = [s for s in checked if not (s.valid_to > start and s.valid_from < end)]
        if outside:
            raise _fail(f"{len(outside)} slots do not overlap the window, first {outside[0]}")
        if not all(math.isfinite(slot.price_pence) for slot in checked):
            raise _fail("a price is not finite")
        return slots

    def error_cases(self) -> list[str]:
        """Names of the error cases this plugin runs (for ``pytest.mark.parametrize``)."""
        return [name for name in ERROR_CASES if name not in self.skip]

    async def check_error(self, name: str) -> ProviderFetchError:
        """The endpoint failing as ERROR_CASES[name] says fails the fetch with its error."""
        case = ERROR_CASES[name]
        expected = self.expect.get(name, case.expected)
        response = Recorded(
            self.endpoint,
            case.body,
            case.status,
            case.headers,
            case.content_type,
            exception=case.exception,
        )
        config = self.config if self.error_config is None else self.error_config
        try:
            slots = await self._fetch([response], config)
        except TimeoutError as exc:
            raise _fail(f"{name}: no answer within {self.timeout:g} s (retrying?)") from exc
        except ProviderError as exc:
            if not isinstance(exc, expected):
                raise _fail(
                    f"{name}: raised {type(exc).__name__}: {exc}, expected {expected.__name__}"
                ) from exc
            if not isinstance(exc, ProviderFetchError):
                raise _fail(f"{name}: {type(exc).__name__} is not a ProviderFetchError") from exc
            wait = exc.retry_after if isinstance(exc, ProviderRateLimitError) else None
            if case.retry_after is not None and wait != case.retry_after:
                raise _fail(f"{name}: retry_after {wait!r}, expected {case.retry_after:g}") from exc
            return exc
        raise _fail(f"{name}: fetch_prices returned {len(slots)} slots instead of failing")

    async def run_all(self) -> None:
        """Every check, in order (for a plugin that wants a single test)."""
        self.check_metadata()
        self.check_config()
        await self.check_fetch()
        for name in self.error_cases():
            await self.check_error(name)
