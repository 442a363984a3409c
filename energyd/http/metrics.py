"""``/metrics`` in the Prometheus text format 0.0.4: rendering (pure) and collection.

Metrics (labels in braces):

- ``energyd_info{version}`` 1
- ``energyd_fetches_total{provider}``, ``energyd_fetch_failures_total{provider}``: fetch runs
  recorded since the HTTP server started (counted from the store's fetch-run log)
- ``energyd_last_success_timestamp_seconds{provider}``, ``energyd_last_attempt_timestamp_seconds
  {provider}``: Unix time, absent until there is one
- ``energyd_provider_health{provider,state}``: 1 for the current state, 0 for the others
- ``energyd_current_price{provider,region,currency}``: minor units per kWh; absent when unknown
  (never 0 for "no data")
- ``energyd_slots_stored{provider,region}``: price slots kept in the store
- ``energyd_plugin_info{file,status,deployed_version,bundled_version}`` 1
- ``energyd_plugin_loop_block_seconds{provider,call}``: the most recent event-loop block by
  that provider's plugin (absent until one), ``energyd_derived_errors{provider}``: topics of
  the provider that cannot be built now
- ``energyd_event_loop_lag_seconds``, ``energyd_event_loop_max_lag_seconds``: the loop-lag
  monitor's last and largest lag (absent while it does not run)
- ``energyd_mqtt_connected`` 0/1 and the MQTT counters (when there is an MQTT client)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from energyd import __version__
from energyd.api.ports import BrokerStatus
from energyd.core.service import PriceService
from energyd.core.store import PriceStore
from energyd.domain.records import FetchOutcome, FetchRun
from energyd.providers.base import HealthState

__all__ = [
    "CONTENT_TYPE",
    "FetchTally",
    "Mark",
    "Metric",
    "collect_metrics",
    "escape_label",
    "render",
    "unseen_runs",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_MAX_SCAN = 1 << 16  # the most fetch runs of one provider read in one scrape
_FIRST_SCAN = 64

Labels = tuple[tuple[str, str], ...]


@dataclass
class Metric:
    """One metric family: name, help, type and its samples (labels -> value)."""

    name: str
    help: str
    type: str  # counter | gauge
    samples: list[tuple[Labels, float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> None:
        self.samples.append((tuple(labels.items()), value))


def escape_label(value: str) -> str:
    """A label value as the text format wants it: backslash, quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def render(metrics: Iterable[Metric]) -> str:
    """The text exposition of ``metrics`` (HELP and TYPE for each family, then its samples)."""
    lines: list[str] = []
    for metric in metrics:
        lines.append(f"# HELP {metric.name} {_help(metric.help)}")
        lines.append(f"# TYPE {metric.name} {metric.type}")
        for labels, value in metric.samples:
            inner = ",".join(f'{key}="{escape_label(text)}"' for key, text in labels)
            head = f"{metric.name}{{{inner}}}" if inner else metric.name
            lines.append(f"{head} {_number(value)}")
    return "\n".join(lines) + "\n"


# -- fetch counters ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mark:
    """How far the runs of one provider were counted: ``seen`` runs started exactly ``at``."""

    at: datetime
    seen: int = 0


def unseen_runs(runs: Sequence[FetchRun], mark: Mark) -> tuple[list[FetchRun], Mark]:
    """The runs of ``runs`` (one provider, newest first) not counted yet, and the new mark.

    ``runs`` must reach back past ``mark.at`` (or hold every run there is). Runs of one
    provider are serialised, so a run recorded later never starts earlier than one counted.
    """
    newer = [run for run in runs if run.started_at > mark.at]
    equal = [run for run in runs if run.started_at == mark.at]
    fresh = newer + equal[: max(len(equal) - mark.seen, 0)]
    if newer:
        top = newer[0].started_at
        return fresh, Mark(top, sum(1 for run in newer if run.started_at == top))
    return fresh, Mark(mark.at, max(len(equal), mark.seen))


class FetchTally:
    """Fetches and failures per provider since ``since``, read cheaply from the store."""

    def __init__(self, since: datetime) -> None:
        self._since = since
        self._marks: dict[str, Mark] = {}
        self.fetches: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()

    async def update(self, store: PriceStore, providers: Iterable[str]) -> None:
        for provider in providers:
            mark = self._marks.get(provider, Mark(self._since))
            limit = _FIRST_SCAN
            while True:
                runs = await store.fetch_runs(limit=limit, provider_id=provider)
                reached = len(runs) < limit or runs[-1].started_at < mark.at
                if reached or limit >= _MAX_SCAN:
                    break
                limit *= 2
            fresh, self._marks[provider] = unseen_runs(runs, mark)
            self.fetches[provider] += len(fresh)
            self.failures[provider] += sum(1 for r in fresh if r.outcome is FetchOutcome.ERROR)


# -- collection --------------------------------------------------------------------------------


def _stamp(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


async def collect_metrics(
    service: PriceService,
    mqtt: BrokerStatus | None,
    tally: FetchTally,
    now: datetime | None = None,
) -> list[Metric]:
    """Every metric, read from the service, the store and the MQTT connection."""
    now = now or datetime.now(UTC)
    specs = service.specs()
    await tally.update(service.store, [spec.key for spec in specs])

    info = Metric("energyd_info", "energyd version.", "gauge")
    info.add(1, version=__version__)
    fetches = Metric("energyd_fetches_total", "Price fetches since the server started.", "counter")
    failures = Metric(
        "energyd_fetch_failures_total", "Failed price fetches since the server started.", "counter"
    )
    success = Metric(
        "energyd_last_success_timestamp_seconds", "Start of the last good fetch.", "gauge"
    )
    attempt = Metric("energyd_last_attempt_timestamp_seconds", "Start of the last fetch.", "gauge")
    health = Metric("energyd_provider_health", "Provider health: 1 for the current state.", "gauge")
    price = Metric(
        "energyd_current_price",
        "The price now in minor currency units per kWh (absent when unknown).",
        "gauge",
    )
    for spec in specs:
        fetches.add(tally.fetches[spec.key], provider=spec.key)
        failures.add(tally.failures[spec.key], provider=spec.key)
        report = await service.health(spec, now)
        if (value := _stamp(report.last_success)) is not None:
            success.add(value, provider=spec.key)
        if (value := _stamp(report.last_attempt)) is not None:
            attempt.add(value, provider=spec.key)
        for state in HealthState:
            health.add(1 if state is report.state else 0, provider=spec.key, state=state.value)
        slot = await service.slot_at(spec, now)
        if slot is not None:
            price.add(
                slot.price_pence, provider=spec.key, region=spec.region, currency=slot.currency
            )

    stored = Metric("energyd_slots_stored", "Price slots kept in the store.", "gauge")
    for (provider, region), count in sorted((await service.store.counts()).items()):
        stored.add(count, provider=provider, region=region)

    plugins = Metric("energyd_plugin_info", "Plugin files and their status.", "gauge")
    for status in service.loader.status():
        plugins.add(
            1,
            file=status.file,
            status=status.state.value,
            deployed_version=status.deployed_version or "",
            bundled_version=status.bundled_version or "",
        )

    metrics = [info, fetches, failures, success, attempt, health, price, stored, plugins]
    metrics.extend(_fault_metrics(service))
    if mqtt is not None:
        metrics.extend(_mqtt_metrics(mqtt))
    return metrics


def _fault_metrics(service: PriceService) -> list[Metric]:
    faults = service.faults
    block = Metric(
        "energyd_plugin_loop_block_seconds",
        "Length of the most recent event-loop block by the provider's plugin.",
        "gauge",
    )
    derived = Metric(
        "energyd_derived_errors", "Topics of the provider that cannot be built now.", "gauge"
    )
    for spec in service.specs():
        last = faults.last_block(spec.key)
        if last is not None:
            block.add(last.seconds, provider=spec.key, call=last.call)
        derived.add(len(faults.derived_errors(spec.key)), provider=spec.key)
    loop = faults.event_loop_json()
    lag = Metric("energyd_event_loop_lag_seconds", "Event-loop lag at the last tick.", "gauge")
    most = Metric(
        "energyd_event_loop_max_lag_seconds", "Largest event-loop lag since start.", "gauge"
    )
    lag_now, lag_max = loop["lag_seconds"], loop["max_lag_seconds"]
    if lag_now is not None:  # both null until the monitor's first tick
        lag.add(lag_now)
    if lag_max is not None:
        most.add(lag_max)
    return [block, derived, lag, most]


def _mqtt_metrics(mqtt: BrokerStatus) -> list[Metric]:
    stats = mqtt.stats
    connected = Metric("energyd_mqtt_connected", "1 while connected to the broker.", "gauge")
    connected.add(1 if mqtt.connected else 0)
    retained = Metric("energyd_mqtt_retained_topics", "Retained topics held.", "gauge")
    retained.add(stats.retained_topics)
    counters = [
        ("connects", stats.connects, "Connections made to the broker."),
        ("disconnects", stats.disconnects, "Connections lost or closed."),
        ("published", stats.published, "Messages published."),
        ("publish_failures", stats.publish_failures, "Publishes that failed."),
        ("requests", stats.requests, "Command requests received."),
        ("replies", stats.replies, "Command replies sent."),
    ]
    metrics = [connected, retained]
    for name, value, text in counters:
        metric = Metric(f"energyd_mqtt_{name}_total", text, "counter")
        metric.add(value)
        metrics.append(metric)
    return metrics
