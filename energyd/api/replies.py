"""The replies of the operations (:class:`~energyd.api.operations.Operations`), as TypedDicts.

Every surface sends these as they are: the MQTT ``response/<command>`` payload, the HTTP
JSON body, ``--json`` on the command line. One name per reply:

==============================  ==============================================================
operation                       reply
==============================  ==============================================================
``refresh``                     :class:`RefreshReply`
``prices``                      :class:`PriceWindowReply`
``cheapest``                    :class:`~energyd.api.shapes.WindowReply`
``figures``                     :class:`FiguresReply`
``settings/get``                :class:`SettingsReply`
``settings/set``                :class:`SettingsChangeReply`
``settings/reset``              :class:`SettingsResetReply`
``providers/status``            :class:`OverviewReply`
``providers/update``, reload    :class:`AuditRecordJson`
``providers/update-all``        :class:`UpdateAllReply`
``audit``                       :class:`AuditReply`
``health``                      :class:`HealthReply`
``readiness`` (``/readyz``)     :class:`ReadinessReply`
``info``                        :class:`InfoReply`
==============================  ==============================================================

The shapes the layers below build are re-exported here: the records' next to the records
(:mod:`energyd.domain.records`, :mod:`energyd.domain.health`), the price service's in
:mod:`energyd.core.shapes`, the event loop's in :mod:`energyd.core.faults`. Key order on the
wire is the order the builders write.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

from energyd.api.shapes import LevelPayload, StatsPayload, WindowPayload, WindowReply
from energyd.core.faults import EventLoopJson
from energyd.core.shapes import (
    OverviewReply,
    PriceWindowReply,
    ProbeJson,
    ProviderOverview,
    SettingsChangeReply,
    SettingsReply,
    SettingsResetReply,
)
from energyd.domain.health import HealthReportJson, LoopBlockJson
from energyd.domain.records import AuditRecordJson, FetchRunJson, PluginStatusJson

__all__ = [
    "AuditRecordJson",
    "AuditReply",
    "BrokerJson",
    "CheckFields",
    "CheckJson",
    "EventLoopJson",
    "FetchRunJson",
    "FiguresReply",
    "HealthReply",
    "HealthReportJson",
    "InfoReply",
    "LoopBlockJson",
    "OverviewReply",
    "PluginStatusJson",
    "PriceWindowReply",
    "ProbeJson",
    "ProviderOverview",
    "ReadinessReply",
    "RefreshReply",
    "SettingsChangeReply",
    "SettingsReply",
    "SettingsResetReply",
    "UpdateAllReply",
    "WindowReply",
]


class RefreshReply(TypedDict):
    """``refresh``: one run per provider fetched."""

    runs: list[FetchRunJson]


class FiguresReply(TypedDict):
    """``figures``: the derived figures as published; one that cannot be built is null
    (``level``, a period of ``stats``) or left out (a window)."""

    level: LevelPayload | None
    stats: dict[str, StatsPayload | None]
    windows: list[WindowPayload]


class UpdateAllReply(TypedDict):
    """``providers/update-all``: one audit record per plugin file updated (or one for
    ``*`` when none was outdated)."""

    updates: list[AuditRecordJson]


class AuditReply(TypedDict):
    """``audit``: the newest audit records first."""

    records: list[AuditRecordJson]


class CheckFields(TypedDict, total=False):
    """The part-specific keys of a check (the ``prices`` part has both)."""

    #: The selected provider's health state (null: it has no report).
    state: str | None
    #: The running providers without a price for now.
    failing: list[str]


class CheckJson(CheckFields):
    """One part of the assessment (:class:`~energyd.api.health.Check`)."""

    ok: bool
    detail: str


class BrokerJson(TypedDict):
    """The MQTT connection in the ``health`` reply (:func:`~energyd.api.health.broker_json`)."""

    #: ``absent``: no MQTT client in this process (the command line, a bare HTTP app).
    state: Literal["connected", "disconnected", "absent"]
    #: Since when it is in that state (null: absent, or the client has not started).
    since: str | None
    #: Why the last connection (or attempt) ended.
    last_error: str | None


class HealthReply(TypedDict):
    """``health``: each running provider's report, the assessment and the event loop;
    ``probes`` only when asked for (``probe``)."""

    mqtt_connected: bool
    broker: BrokerJson
    store: str
    providers: dict[str, HealthReportJson]
    ok: bool
    #: Part (:data:`~energyd.api.health.PARTS`, in that order) -> its check.
    checks: dict[str, CheckJson]
    event_loop: EventLoopJson
    probes: NotRequired[dict[str, ProbeJson]]


class ReadinessReply(TypedDict):
    """``readiness`` (``/readyz``, 200 or 503): the assessment alone."""

    status: Literal["ready", "not_ready"]
    #: As the ``health`` reply's.
    checks: dict[str, CheckJson]


class InfoReply(TypedDict):
    """``info``: the version, whether figures are served, the selected and the running
    providers (``/api/info`` adds ``writes``)."""

    version: str
    figures: bool
    selected: str
    providers: list[str]
