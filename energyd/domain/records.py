"""Plain records that cross module boundaries (store, loader, scheduler, MQTT)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NotRequired, TypedDict

from energyd.domain.time import iso_utc

__all__ = [
    "AuditRecord",
    "AuditRecordJson",
    "FetchOutcome",
    "FetchRun",
    "FetchRunJson",
    "PluginState",
    "PluginStatus",
    "PluginStatusJson",
]


class FetchOutcome(enum.StrEnum):
    """How a fetch ended: prices stored, a failure, or the source has nothing *yet*."""

    OK = "ok"
    ERROR = "error"
    #: The source said the prices asked for are not published yet: nothing stored, no fault.
    WAITING = "waiting"


class FetchRunJson(TypedDict):
    """:meth:`FetchRun.as_json`: one fetch as the ``refresh`` and ``settings/set`` replies
    list it (``retry_after`` only when the source asked us to wait)."""

    provider: str
    region: str
    outcome: str
    slots: int
    duration_ms: float
    error: str | None
    error_type: str | None
    retry_after: NotRequired[float]


@dataclass(frozen=True, slots=True)
class FetchRun:
    """One attempt to fetch prices for one provider and region."""

    provider_id: str
    region: str
    started_at: datetime
    outcome: FetchOutcome
    slots: int = 0
    duration_ms: float = 0.0
    error: str | None = None
    error_type: str | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    #: Seconds the source asked us to wait before asking again (HTTP 429 ``Retry-After``).
    retry_after: float | None = None

    def as_json(self) -> FetchRunJson:
        body: FetchRunJson = {
            "provider": self.provider_id,
            "region": self.region,
            "outcome": self.outcome.value,
            "slots": self.slots,
            "duration_ms": self.duration_ms,
            "error": self.error,
            "error_type": self.error_type,
        }
        if self.retry_after is not None:
            body["retry_after"] = self.retry_after
        return body


class AuditRecordJson(TypedDict):
    """:meth:`AuditRecord.as_json`: the reply of ``providers/update`` and ``providers/reload``,
    and each record of ``audit`` and ``providers/update-all``."""

    action: str
    file: str
    version_before: str | None
    version_after: str | None
    actor: str
    ok: bool
    message: str
    at: str


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One management action on plugin files (update one, update all, reload)."""

    action: str
    file: str
    version_before: str | None
    version_after: str | None
    actor: str
    ok: bool = True
    message: str = ""
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def as_json(self) -> AuditRecordJson:
        return {
            "action": self.action,
            "file": self.file,
            "version_before": self.version_before,
            "version_after": self.version_after,
            "actor": self.actor,
            "ok": self.ok,
            "message": self.message,
            "at": iso_utc(self.at),
        }


class PluginState(enum.StrEnum):
    UP_TO_DATE = "up_to_date"
    UPDATE_AVAILABLE = "update_available"
    NOT_INSTALLED = "not_installed"
    LOCAL = "local"
    LOAD_ERROR = "load_error"


class PluginStatusJson(TypedDict):
    """:meth:`PluginStatus.as_json`: one plugin file in the overview (``plugins``)."""

    file: str
    status: str
    provider_id: str | None
    display_name: str | None
    deployed_version: str | None
    bundled_version: str | None
    error: str | None
    kit: int | None


@dataclass(frozen=True, slots=True)
class PluginStatus:
    """What the loader knows about one ``*_provider.py`` file."""

    file: str
    state: PluginState
    provider_id: str | None = None
    display_name: str | None = None
    deployed_version: str | None = None
    bundled_version: str | None = None
    error: str | None = None
    #: The plugin kit version the deployed file declares (``REQUIRES_KIT``); None: plain v1.
    kit: int | None = None

    def as_json(self) -> PluginStatusJson:
        return {
            "file": self.file,
            "status": self.state.value,
            "provider_id": self.provider_id,
            "display_name": self.display_name,
            "deployed_version": self.deployed_version,
            "bundled_version": self.bundled_version,
            "error": self.error,
            "kit": self.kit,
        }
