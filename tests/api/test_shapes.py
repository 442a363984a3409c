"""Every payload and reply shape (a TypedDict) against what its real builder emits.

One daemon graph (a SQLite store, the loader with two small plugins, the price service, the
operations, the state publisher over a stand-in broker) builds every reply and every
retained topic once; each shape then checks the samples of it found there, nested ones
included: every required key present, no key the shape does not name, each value of the
type the shape says, and each ``NotRequired`` key seen in some sample. A shape no builder
emits fails :meth:`TestEveryShape.test_every_shape_is_built`.
"""

from __future__ import annotations

import json
import textwrap
import types
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import (
    Any,
    Literal,
    NotRequired,
    Required,
    Union,
    get_args,
    get_origin,
    get_type_hints,
    is_typeddict,
)

import aiohttp
import pytest
import pytest_asyncio

import energyd.api.replies
import energyd.api.shapes
import energyd.core.faults
import energyd.core.shapes
import energyd.domain.figures
import energyd.domain.health
import energyd.domain.records
import energyd.http.routes
from energyd.api import replies, shapes
from energyd.api.arguments import (
    AuditArgs,
    CheapestArgs,
    FiguresArgs,
    HealthArgs,
    NoArgs,
    PricesArgs,
    RefreshArgs,
    SettingsResetArgs,
    SettingsSetArgs,
    UpdateArgs,
)
from energyd.api.derived import PERIODS, window_payload
from energyd.api.figures import FigureSource
from energyd.api.health import PARTS, Check, assess
from energyd.api.operations import Operations
from energyd.config import Settings, load_settings
from energyd.core import shapes as core_shapes
from energyd.core.faults import RuntimeFaults
from energyd.core.service import PriceService
from energyd.core.store import PriceStore
from energyd.domain.figures import find_window, period_stats, window_json
from energyd.domain.health import HealthReport, HealthState, LoopBlock
from energyd.domain.records import (
    AuditRecord,
    FetchOutcome,
    FetchRun,
    PluginState,
    PluginStatus,
)
from energyd.http.auth import WritePolicy
from energyd.http.metrics import FetchTally
from energyd.http.routes import Api, HttpInfoReply
from energyd.mqtt.payloads import (
    price_payload,
    providers_payload,
    settings_payload,
    upcoming_payload,
)
from energyd.mqtt.state import StatePublisher
from energyd.mqtt.topics import Topics
from energyd.providers.base import EnergyPriceSlot
from energyd.providers.loader import EnergyProviderLoader
from energyd.providers.management import ProviderManager

#: The modules that define payload and reply shapes.
SHAPE_MODULES = (
    energyd.api.shapes,
    energyd.api.replies,
    energyd.core.shapes,
    energyd.core.faults,
    energyd.domain.records,
    energyd.domain.health,
    energyd.domain.figures,
    energyd.http.routes,
)
#: Shapes that are only ever the base of others (their keys are checked in those).
BASES_ONLY = frozenset({core_shapes.ProviderEntry})

# A provider whose price rises through each UTC day (0.0 at 00:00 .. 47.0 at 23:30), with a
# health check of its own; ``"broken"`` is a plugin file that does not load.
PLUGIN = textwrap.dedent(
    """\
    from datetime import UTC, datetime, timedelta

    from providers.energy.base import (
        EnergyPriceProvider,
        EnergyPriceSlot,
        EnergyProviderMetadata,
        HealthState,
        ProviderHealth,
    )

    __version__ = "VERSION"


    class Rising(EnergyPriceProvider):
        def get_metadata(self):
            return EnergyProviderMetadata(
                provider_id="PROVIDER", display_name="PROVIDER prices", version=__version__,
                supported_regions=("A", "C"), market_timezone="Europe/London",
                publish_time_local="00:00",
            )

        def validate_config(self, config):
            return {} if config.get("region") in ("A", "C") else {"region": "must be A or C"}

        async def health_check(self, region, config):
            return ProviderHealth(HealthState.OK, "reachable", latency_ms=12.5)

        async def fetch_prices(self, region, start_utc, end_utc, config):
            slots = []
            moment = start_utc
            now = datetime.now(UTC)
            while moment < end_utc:
                price = float(moment.hour * 2 + moment.minute // 30)
                late = moment >= end_utc - timedelta(hours=2)  # the last hours: not final yet
                if "PROVIDER" == "other":  # the fallback of "rising": 10 % dearer, no gap
                    slots.append(
                        EnergyPriceSlot(moment, moment + timedelta(minutes=30), price * 1.1 + 1)
                    )
                elif not now - timedelta(hours=1) <= moment < now + timedelta(hours=1):
                    # "rising" has a gap around now (served from "other"), and its last
                    # hour is a forecast with a band
                    guess = moment >= end_utc - timedelta(hours=1)
                    slots.append(
                        EnergyPriceSlot(
                            moment,
                            moment + timedelta(minutes=30),
                            price,
                            provisional=late,
                            estimate=guess,
                            estimate_low_pence=price - 1 if guess else None,
                            estimate_high_pence=price + 1 if guess else None,
                        )
                    )
                moment += timedelta(minutes=30)
            return slots
    """
)
BROKEN = '__version__ = "1.0.0"\n\ndef broken(:\n    pass\n'
NOW = datetime(2024, 3, 5, 10, 7, tzinfo=UTC)


def plugin(provider: str, version: str) -> str:
    return PLUGIN.replace("PROVIDER", provider).replace("VERSION", version)


# -- reading a shape ---------------------------------------------------------------------------


def hints_of(shape: Any) -> dict[str, Any]:
    return get_type_hints(shape, include_extras=True)


def keys_of(shape: Any) -> tuple[frozenset[str], frozenset[str]]:
    """The required and the optional keys of a TypedDict.

    ``__optional_keys__`` alone is not enough on Python 3.11: under ``from __future__ import
    annotations`` a ``NotRequired[...]`` is still a string when the class is made, and is
    counted as required. ``total=False`` bases are counted right.
    """
    optional = set(shape.__optional_keys__)
    for key, hint in hints_of(shape).items():
        if get_origin(hint) is NotRequired:
            optional.add(key)
        elif get_origin(hint) is Required:
            optional.discard(key)
    every = frozenset(hints_of(shape))
    return every - optional, frozenset(optional)


def shapes_in(module: types.ModuleType) -> list[Any]:
    """The public TypedDicts a module defines (not the ones it imports)."""
    return [
        value
        for name, value in vars(module).items()
        if is_typeddict(value) and value.__module__ == module.__name__ and not name.startswith("_")
    ]


ALL_SHAPES = sorted(
    {shape for module in SHAPE_MODULES for shape in shapes_in(module)},
    key=lambda shape: (shape.__module__, shape.__name__),
)


@dataclass
class Samples:
    """Every TypedDict met while checking, with the values found for it."""

    found: dict[Any, list[Mapping[str, Any]]] = field(default_factory=dict)

    def merge(self, other: Samples) -> None:
        for shape, values in other.found.items():
            self.found.setdefault(shape, []).extend(values)


def check(hint: Any, value: object, where: str, samples: Samples) -> None:
    """Assert that ``value`` has the type ``hint`` (recursively); record every TypedDict."""
    if get_origin(hint) in (NotRequired, Required):
        (hint,) = get_args(hint)
    if hint is Any:
        return
    if is_typeddict(hint):
        assert isinstance(value, dict), f"{where}: {hint.__name__} must be a dict: {value!r}"
        required, optional = keys_of(hint)
        keys = set(value)
        assert set() == required - keys, f"{where}: {hint.__name__} misses keys"
        assert set() == keys - required - optional, f"{where}: {hint.__name__} has no such keys"
        samples.found.setdefault(hint, []).append(value)
        hints = hints_of(hint)
        for key, item in value.items():
            check(hints[key], item, f"{where}.{key}", samples)
        return
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return
        failures = []
        for option in (arg for arg in args if arg is not type(None)):
            trial = Samples()
            try:
                check(option, value, where, trial)
            except AssertionError as exc:
                failures.append(str(exc))
                continue
            samples.merge(trial)
            return
        raise AssertionError(f"{where}: {value!r} is none of {hint}: {failures}")
    if origin is Literal:
        assert value in args, f"{where}: {value!r} is not one of {args}"
    elif origin is list:
        assert isinstance(value, list), f"{where}: must be a list: {value!r}"
        for index, item in enumerate(value):
            check(args[0], item, f"{where}[{index}]", samples)
    elif origin is dict:
        assert isinstance(value, dict), f"{where}: must be a dict: {value!r}"
        for key, item in value.items():
            check(args[0], key, f"{where} key", samples)
            check(args[1], item, f"{where}[{key!r}]", samples)
    elif hint is type(None):
        assert value is None, f"{where}: must be null: {value!r}"
    elif hint in (float, int):  # an int is a float to mypy, and to JSON
        assert not isinstance(value, bool), f"{where}: must be a number: {value!r}"
        assert isinstance(value, int | hint), f"{where}: must be {hint.__name__}: {value!r}"
    elif hint in (str, bool):
        assert isinstance(value, hint), f"{where}: must be {hint.__name__}: {value!r}"
    else:
        raise AssertionError(f"{where}: the check cannot read the hint {hint!r}")


# -- building everything -----------------------------------------------------------------------


class StandInBroker:
    """What the state publisher needs of the MQTT client: the topics, and where to publish."""

    connected = False
    stats = None

    def __init__(self) -> None:
        self.topics = Topics("shapes")
        self.retained: dict[str, bytes] = {}

    async def publish_retained(self, topic: str, payload: bytes) -> None:
        self.retained[topic] = payload

    async def publish_retained_many(self, messages: Mapping[str, bytes]) -> None:
        self.retained.update(messages)

    async def clear_retained(self, topic: str) -> None:
        self.retained.pop(topic, None)


def settings_for(tmp_path: Path) -> Settings:
    return load_settings(
        None,
        config_dir=tmp_path / "config",
        energy={
            "provider_id": "rising",
            "providers": {
                # a price formula, so the series carry the market price too
                "rising": {
                    "region": "C",
                    "tariff": {"adders": {"grid": 5.0}, "vat_percent": 20},
                    "hourly": True,
                    "fallbacks": ["other"],
                },
                "other": {"region": "A"},
            },
        },
        refresh={"fetch_timeout_seconds": 5},
        prices={"windows": [{"name": "next_2h", "minutes": 120}]},
    )


def records() -> Iterable[tuple[Any, object]]:
    """The records, built directly (every optional key once present, once absent)."""
    block = LoopBlock(1.23456, "fetch_prices", NOW)
    yield replies.FetchRunJson, FetchRun("p", "C", NOW, FetchOutcome.OK, 3, 1.5).as_json()
    yield (
        replies.FetchRunJson,
        FetchRun(
            "p", "C", NOW, FetchOutcome.ERROR, error="429", error_type="X", retry_after=30.0
        ).as_json(),
    )
    yield (
        replies.AuditRecordJson,
        AuditRecord("update", "x_provider.py", "1", None, "cli", False, "m", NOW).as_json(),
    )
    yield (
        replies.PluginStatusJson,
        PluginStatus("x_provider.py", PluginState.LOCAL, "x", "X", "1", None, None, 2).as_json(),
    )
    yield replies.LoopBlockJson, block.as_json()
    yield replies.HealthReportJson, HealthReport(HealthState.UNKNOWN, "no fetch yet").as_json()
    yield (
        replies.HealthReportJson,
        HealthReport(HealthState.DEGRADED, "m", NOW, NOW, "e", NOW, block, {"a": "b"}).as_json(),
    )
    faults = RuntimeFaults()
    yield replies.EventLoopJson, faults.event_loop_json()
    faults.loop_tick(0.5, 0.0)
    yield replies.EventLoopJson, faults.event_loop_json()
    yield replies.CheckJson, Check(True, "fine").as_json()


def topics(slots: list[EnergyPriceSlot]) -> Iterable[tuple[Any, object]]:
    """The pure topic builders, over ``slots``."""
    yield shapes.PricePayload, price_payload("p", "C", slots[0], currency="GBP")
    yield shapes.PricePayload, price_payload("p", "C", None, currency=None)
    yield shapes.UpcomingPayload, upcoming_payload("p", "C", slots, now=NOW, currency="GBP")
    yield shapes.SeriesHead, shapes.series_head("p", "C", None)
    start, end = slots[0].valid_from, slots[-1].valid_to
    yield energyd.domain.figures.StatsJson, period_stats(slots, start, end, NOW).as_json()
    window = find_window(slots, 60, start, end)
    asked = {"minutes": 60, "period_start": start, "period_end": end}
    yield energyd.domain.figures.WindowJson, window_json(window, **asked)
    yield energyd.domain.figures.WindowNowJson, window_json(window, **asked, now=NOW)
    yield (
        shapes.WindowReply,
        window_payload(
            shapes.series_head("p", "C", "GBP"),
            name=None,
            window=None,
            mode="cheapest",
            minutes=60,
            contiguous=True,
            period=(start, end),
        ),
    )


async def operations(ops: Operations, api: Api) -> AsyncIterator[tuple[Any, object]]:
    """Every operation's reply (plugins updated and reloaded, so the audit has records)."""
    yield replies.HealthReply, await ops.health(HealthArgs())
    yield replies.RefreshReply, await ops.refresh(RefreshArgs())
    yield replies.PriceWindowReply, await ops.prices(PricesArgs())
    yield replies.PriceWindowReply, await ops.prices(PricesArgs(day="tomorrow"))
    yield replies.WindowReply, await ops.cheapest(CheapestArgs(minutes=60))
    yield replies.FiguresReply, await ops.figures(FiguresArgs())
    yield replies.SettingsReply, await ops.settings_get(NoArgs())
    change = SettingsSetArgs(key="energy.providers.other.region", value="C")
    yield replies.SettingsChangeReply, await ops.settings_set(change)
    reset = SettingsResetArgs(keys=["energy.providers.other.region"])
    yield replies.SettingsResetReply, await ops.settings_reset(reset)
    yield replies.OverviewReply, await ops.providers_status(NoArgs())
    update = UpdateArgs(name="rising_provider.py")
    yield replies.AuditRecordJson, await ops.providers_update(update, actor="cli")
    yield replies.UpdateAllReply, await ops.providers_update_all(NoArgs(), actor="http")
    yield replies.AuditRecordJson, await ops.providers_reload(NoArgs(), actor="mqtt")
    yield replies.AuditReply, await ops.audit(AuditArgs())
    yield replies.HealthReply, await ops.health(HealthArgs(probe=True))
    yield replies.ReadinessReply, await ops.readiness(NoArgs())
    yield replies.InfoReply, await ops.info(NoArgs())
    yield HttpInfoReply, await api.info(NoArgs())


@dataclass
class Built:
    """What was built: (shape, value) pairs, and the retained topics as published."""

    pairs: list[tuple[Any, object]]
    retained: dict[str, bytes]
    settings: Settings


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    tmp_path = tmp_path_factory.mktemp("shapes")
    bundled = tmp_path / "bundled"
    bundled.mkdir()
    (bundled / "rising_provider.py").write_text(plugin("rising", "2.0.0"))
    (bundled / "other_provider.py").write_text(plugin("other", "2.0.0"))
    (bundled / "broken_provider.py").write_text(BROKEN)
    settings = settings_for(tmp_path)
    loader = EnergyProviderLoader(settings.config_dir, bundled)
    loader.deploy_bundled_if_empty()
    # Older deployed files: update and update-all have something to do.
    (loader.deployed_dir / "rising_provider.py").write_text(plugin("rising", "1.0.0"))
    (loader.deployed_dir / "other_provider.py").write_text(plugin("other", "1.0.0"))
    loader.load_all()
    pairs: list[tuple[Any, object]] = list(records())
    async with PriceStore(settings.db_path) as store, aiohttp.ClientSession() as session:
        service = PriceService(settings, store, loader, session)
        await service.start()
        manager = ProviderManager(loader, store, on_change=service.plugins_changed)
        figures = FigureSource(service, settings.prices)
        ops = Operations(service, manager, store, figures=figures)
        api = Api(ops, WritePolicy.OPEN, FetchTally(datetime.now(UTC)))
        pairs += [pair async for pair in operations(ops, api)]
        spec = service.spec()
        now = datetime.now(UTC)
        slots = await service.slots(spec, *service.calendar(spec).fetch_window(now, 1))
        pairs += list(topics([slot for slot in slots if slot.valid_to > now]))
        derived = figures.derive(spec, await figures.known(spec, now), now)
        shape_of = {
            "today": shapes.DayPayload,
            "tomorrow": shapes.DayPayload,
            "level": shapes.LevelPayload,
            "predbat": shapes.PredbatPayload,
            "emhass": shapes.EmhassPayload,
            "hourly": shapes.HourlyPayload,
        }
        for topic, payload in derived.payloads.items():
            if topic.startswith("stats/"):
                pairs.append((shapes.StatsPayload, payload))
            elif topic.startswith("windows/"):
                pairs.append((shapes.WindowPayload, payload))
            else:
                pairs.append((shape_of[topic], payload))
        shared = await service.shared_overview()
        pairs.append((core_shapes.SharedOverviewReply, shared))
        pairs.append((shapes.ProvidersPayload, providers_payload(shared)))
        pairs.append((shapes.ProviderListPayload, providers_payload(shared["providers"])))
        entries = [(spec, service.metadata(spec)) for spec in service.specs()]
        pairs.append((shapes.SettingsPayload, settings_payload("rising", entries)))
        assessment = await assess(service, store, None)
        pairs.append((dict[str, replies.CheckJson], assessment.checks_json()))
        pairs.append((replies.CheckFields, assessment.checks["prices"].extra))
        broker = StandInBroker()
        publisher = StatePublisher(service, broker, settings.prices)
        await publisher.publish_all()
    return Built(pairs, broker.retained, settings)


def samples_of(built: Built) -> Samples:
    samples = Samples()
    for index, (shape, value) in enumerate(built.pairs):
        check(shape, value, f"{shape.__name__}#{index}", samples)
    return samples


# -- the tests ---------------------------------------------------------------------------------


class TestEveryShape:
    def test_every_shape_is_built(self, built: Built) -> None:
        """Each public TypedDict of the shape modules is emitted by some real builder."""
        found = set(samples_of(built).found)
        assert [] == [s.__name__ for s in ALL_SHAPES if s not in found and s not in BASES_ONLY]

    @pytest.mark.parametrize("shape", ALL_SHAPES, ids=[s.__name__ for s in ALL_SHAPES])
    def test_keys_are_the_builders(self, built: Built, shape: Any) -> None:
        """Every sample has the shape's required keys and no other key than the shape's, and
        the keys of all its samples together are the shape's (each optional key is written
        by some builder). A base alone: some shape built has every key of it."""
        found = samples_of(built).found
        required, optional = keys_of(shape)
        if shape in BASES_ONLY:
            assert [] != [other for other in found if required <= keys_of(other)[0]]
            return
        values = found.get(shape, [])
        assert values, f"no builder emitted a {shape.__name__}"
        assert required | optional == {key for value in values for key in value}
        for value in values:
            assert required <= set(value) <= required | optional

    def test_the_json_is_the_built_value(self, built: Built) -> None:
        """What is checked is what goes on the wire (JSON keeps keys, order and values)."""
        for shape, value in built.pairs:
            assert value == json.loads(json.dumps(value)), shape.__name__


class TestOptionalKeys:
    """The NotRequired keys, present and absent, as their builders write them."""

    def test_the_keys_python_reads(self) -> None:
        """NotRequired is read from the hints (see :func:`keys_of`)."""
        assert {"retry_after"} == keys_of(replies.FetchRunJson)[1]
        assert {"date"} == keys_of(replies.PriceWindowReply)[1]
        assert {"probes"} == keys_of(replies.HealthReply)[1]
        assert {"state", "failing"} == keys_of(replies.CheckJson)[1]
        # A standing window always says whether it is active; the cheapest reply never does.
        required, optional = keys_of(shapes.WindowPayload)
        assert ("active" in required, frozenset()) == (True, optional)
        assert "active" not in set().union(*keys_of(shapes.WindowReply))

    def test_retry_after_only_when_asked_to_wait(self) -> None:
        plain = FetchRun("p", "C", NOW, FetchOutcome.OK).as_json()
        waited = FetchRun("p", "C", NOW, FetchOutcome.ERROR, retry_after=5.0).as_json()
        assert ("retry_after" in plain, "retry_after" in waited) == (False, True)

    def test_probes_only_with_probe(self, built: Built) -> None:
        health = [v for s, v in built.pairs if s is replies.HealthReply]
        assert [False, True] == ["probes" in reply for reply in health]

    def test_date_only_for_a_day(self, built: Built) -> None:
        windows = [v for s, v in built.pairs if s is replies.PriceWindowReply]
        assert [False, True] == ["date" in reply for reply in windows]


class TestFixedKeySets:
    """Shapes whose keys follow something else in the code."""

    def test_settings_reply_has_every_section(self, built: Built) -> None:
        """settings/get names each section of the settings model, and the overrides."""
        required, optional = keys_of(core_shapes.SettingsReply)
        assert (set(Settings.model_fields) | {"overrides"}, set()) == (required, optional)
        (reply,) = [v for s, v in built.pairs if s is replies.SettingsReply]
        assert [*Settings.model_fields, "overrides"] == list(reply)

    def test_checks_are_the_parts(self, built: Built) -> None:
        """health and readiness name every part of the assessment, in order."""
        checked = [v for s, v in built.pairs if s in (replies.HealthReply, replies.ReadinessReply)]
        assert [list(PARTS)] * len(checked) == [list(reply["checks"]) for reply in checked]

    def test_figures_stats_are_the_periods(self, built: Built) -> None:
        (reply,) = [v for s, v in built.pairs if s is replies.FiguresReply]
        assert list(PERIODS) == list(reply["stats"])

    def test_the_overview_is_the_providers_topic(self) -> None:
        """The providers topic has the overview's keys, each provider the overview's, and
        each health some of the health reply's (no time of building anywhere)."""
        assert keys_of(replies.OverviewReply) == keys_of(shapes.ProvidersPayload)
        assert keys_of(shapes.ProviderOverview) == keys_of(shapes.ProviderStatePayload)
        shared = keys_of(shapes.SharedHealthJson)[0]
        assert shared < keys_of(shapes.HealthReportJson)[0]
        assert {"last_success", "last_attempt", "next_attempt", "loop_block"}.isdisjoint(shared)


class TestRetainedTopics:
    """The retained topics as the publisher sends them, against their shapes."""

    def test_providers_and_settings(self, built: Built) -> None:
        samples = Samples()
        check(shapes.ProvidersPayload, json.loads(built.retained["shapes/providers"]), "p", samples)
        check(shapes.SettingsPayload, json.loads(built.retained["shapes/settings"]), "s", samples)
        assert {
            shapes.ProvidersPayload,
            shapes.ProviderStatePayload,
            shapes.SharedHealthJson,
            # "rising" falls back to "other", which is 10 % dearer
            energyd.domain.health.FailoverJson,
            energyd.domain.health.DisagreementJson,
            replies.PluginStatusJson,
            shapes.SettingsPayload,
            shapes.ProviderSettingsPayload,
        } == set(samples.found)

    def test_every_price_topic(self, built: Built) -> None:
        """current, next, upcoming and every derived topic of each provider has its shape."""
        shape_of: dict[str, Any] = {
            "current": shapes.PricePayload,
            "next": shapes.PricePayload,
            "upcoming": shapes.UpcomingPayload,
            "today": shapes.DayPayload,
            "tomorrow": shapes.DayPayload,
            "level": shapes.LevelPayload,
            "predbat": shapes.PredbatPayload,
            "emhass": shapes.EmhassPayload,
            "stats": shapes.StatsPayload,
            "windows": shapes.WindowPayload,
            "hourly": shapes.HourlyPayload,
        }
        seen = set()
        for topic, body in built.retained.items():
            parts = topic.split("/")
            if parts[1] != "prices":
                continue
            suffix = parts[4]
            seen.add(suffix)
            check(shape_of[suffix], json.loads(body), topic, Samples())
        assert set(shape_of) == seen


class TestTheCheck:
    """The checker itself refuses what does not fit."""

    def test_a_missing_key(self) -> None:
        body = dict(LoopBlock(1.0, "x", NOW).as_json())
        del body["call"]
        with pytest.raises(AssertionError, match="misses keys"):
            check(replies.LoopBlockJson, body, "b", Samples())

    def test_an_extra_key(self) -> None:
        body = {**LoopBlock(1.0, "x", NOW).as_json(), "more": 1}
        with pytest.raises(AssertionError, match="has no such keys"):
            check(replies.LoopBlockJson, body, "b", Samples())

    def test_a_value_of_another_type(self) -> None:
        body = {**LoopBlock(1.0, "x", NOW).as_json(), "call": 3}
        with pytest.raises(AssertionError, match="must be str"):
            check(replies.LoopBlockJson, body, "b", Samples())

    def test_a_nested_shape(self) -> None:
        report = HealthReport(HealthState.OK, "m", loop_block=LoopBlock(1.0, "x", NOW)).as_json()
        body = {**report, "loop_block": {"seconds": 1.0}}
        with pytest.raises(AssertionError, match="none of"):
            check(replies.HealthReportJson, body, "h", Samples())

    def test_nested_shapes_are_recorded(self) -> None:
        start = NOW.replace(minute=0)
        slots = [EnergyPriceSlot(start, start + timedelta(minutes=30), 1.0)]
        reply = upcoming_payload("p", "C", slots, now=NOW, currency="GBP")
        samples = Samples()
        check(shapes.UpcomingPayload, reply, "u", samples)
        assert 1 == len(samples.found[shapes.SlotJson])
