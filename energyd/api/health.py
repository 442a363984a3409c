"""One definition of healthy, for the ``health`` command and ``/readyz`` alike.

The daemon is healthy when each part is:

- ``store``: the SQLite store answers;
- ``plugins``: every running provider has a loaded plugin;
- ``prices``: every running provider has a price for now (its health is ``ok``,
  ``waiting`` or ``degraded``; ``stale``, ``error`` and ``unknown`` fail, and there must be
  at least one);
- ``mqtt``: the process is connected to its broker (a process without an MQTT client, the
  command line or a bare HTTP app, passes). A daemon whose broker is down is not healthy,
  whatever its prices: automations read energyd over MQTT, so they get nothing (or retained
  values that go stale) until it is back. The ``health`` reply's ``broker``
  (:func:`broker_json`) says since when it is up or down, and the status page's headline
  follows ``ok``.

:func:`assess` names each part with ``ok`` and a ``detail``; the ``prices`` part also names
the failing providers. The ``health`` reply's ``ok`` and ``/readyz``'s 200 / 503 are
:attr:`Assessment.ok`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from energyd.api.ports import BrokerStatus
from energyd.api.replies import BrokerJson, CheckFields, CheckJson
from energyd.core.service import PriceService
from energyd.core.store import PriceStore
from energyd.domain.health import HealthReport, HealthState
from energyd.domain.time import iso_or_none
from energyd.exceptions import EnergydError

__all__ = ["HEALTHY_STATES", "PARTS", "Assessment", "Check", "assess", "broker_json"]

#: Provider health states that count as healthy: a price for now is known.
HEALTHY_STATES = frozenset({HealthState.OK, HealthState.DEGRADED, HealthState.WAITING})
#: The parts of the assessment, in order.
PARTS = ("store", "plugins", "prices", "mqtt")


@dataclass(frozen=True, slots=True)
class Check:
    """One part: whether it is healthy, why, and part-specific fields."""

    ok: bool
    detail: str
    extra: CheckFields = field(default_factory=CheckFields)

    def as_json(self) -> CheckJson:
        return {"ok": self.ok, "detail": self.detail, **self.extra}


@dataclass(frozen=True, slots=True)
class Assessment:
    """Every part's check, and each running provider's health report (by provider key)."""

    checks: Mapping[str, Check]
    reports: Mapping[str, HealthReport]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks.values())

    def checks_json(self) -> dict[str, CheckJson]:
        """Every part's check (part -> check, in :data:`PARTS` order)."""
        return {name: check.as_json() for name, check in self.checks.items()}


async def _store(store: PriceStore) -> Check:
    try:
        await store.get_overrides()
    except (EnergydError, RuntimeError) as exc:
        return Check(False, str(exc))
    return Check(True, f"open: {store.path}")


def _plugins(service: PriceService) -> Check:
    missing = [spec.key for spec in service.specs() if service.plugin(spec) is None]
    broken = service.loader.failed()
    detail = f"loaded: {', '.join(sorted(service.loader.providers)) or 'none'}"
    if broken:
        detail += f"; failed to load: {', '.join(broken)}"
    if missing:
        detail += f"; no plugin for: {', '.join(missing)}"
    return Check(not missing, detail)


async def _reports(service: PriceService, now: datetime) -> dict[str, HealthReport]:
    return {spec.key: await service.health(spec, now) for spec in service.specs()}


def _prices(service: PriceService, reports: Mapping[str, HealthReport]) -> Check:
    if not reports:
        return Check(False, "no provider running", {"state": None, "failing": []})
    failing = [key for key, report in reports.items() if report.state not in HEALTHY_STATES]
    detail = "; ".join(
        f"{key}: {report.state.value}: {report.message}" for key, report in reports.items()
    )
    selected = reports.get(service.energy.provider_id)
    # ``state``: the selected provider's (what /readyz always named), ``failing``: every
    # provider without a price for now.
    state = None if selected is None else selected.state.value
    return Check(not failing, detail, {"state": state, "failing": failing})


def broker_json(broker: BrokerStatus | None) -> BrokerJson:
    """The MQTT connection's state, since when, and why the last connection ended."""
    if broker is None:
        return {"state": "absent", "since": None, "last_error": None}
    stats = broker.stats
    if broker.connected:
        return {
            "state": "connected",
            "since": iso_or_none(stats.connected_since),
            "last_error": stats.last_error,
        }
    return {
        "state": "disconnected",
        "since": iso_or_none(stats.disconnected_since),
        "last_error": stats.last_error,
    }


def _broker(broker: BrokerStatus | None) -> Check:
    if broker is None:
        return Check(True, "no MQTT client in this process")
    if broker.connected:
        return Check(True, "connected")
    state = broker_json(broker)
    detail = "not connected to the broker"
    if state["since"] is not None:
        detail += f" since {state['since']}"
    if state["last_error"] is not None:
        detail += f" ({state['last_error']})"
    return Check(False, detail)


async def assess(
    service: PriceService,
    store: PriceStore,
    broker: BrokerStatus | None,
    now: datetime | None = None,
) -> Assessment:
    """Check every part (see the module doc); never raises for a failing part."""
    now = now or datetime.now(UTC)
    store_check = await _store(store)
    try:
        reports = await _reports(service, now)
        prices = _prices(service, reports)
    except (EnergydError, RuntimeError) as exc:  # the store failing under the health reads
        reports = {}
        prices = Check(False, str(exc), {"state": None, "failing": []})
    checks = {
        "store": store_check,
        "plugins": _plugins(service),
        "prices": prices,
        "mqtt": _broker(broker),
    }
    return Assessment(checks, reports)
