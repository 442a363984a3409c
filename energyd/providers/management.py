"""Plugin management actions (status, update one, update all, reload), audited.

MQTT commands and HTTP endpoints both call :class:`ProviderManager`, so the two surfaces cannot
drift apart. Every action writes an :class:`~energyd.domain.records.AuditRecord`, also when it is
refused or fails; the refusing error is then raised again for the caller to report.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

import structlog

from energyd.domain.records import AuditRecord, PluginState, PluginStatus
from energyd.exceptions import ProviderError, UnknownProviderError
from energyd.providers.loader import PLUGIN_NAME, EnergyProviderLoader

__all__ = ["AuditSink", "ChangeListener", "ProviderManager", "audit_file_name"]

log = structlog.get_logger(__name__)

ChangeListener = Callable[[], Awaitable[None]]
_MAX_FILE_CHARS = 200


class AuditSink(Protocol):
    """Where audit records go (the SQLite store in the daemon)."""

    async def add_audit(self, record: AuditRecord) -> None: ...


def audit_file_name(name: object) -> str:
    """A file name as it may be stored: non-printables escaped, at most 200 characters."""
    if not isinstance(name, str):
        return f"<{type(name).__name__}>"
    shown = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in name)
    return shown[:_MAX_FILE_CHARS]


class ProviderManager:
    """Runs management actions on the loader and audits each one.

    ``on_change`` (optional) is awaited after an action that changed the loaded plugins: a
    successful update, an update-all that copied at least one file, and every reload.
    """

    def __init__(
        self,
        loader: EnergyProviderLoader,
        audit: AuditSink,
        on_change: ChangeListener | None = None,
    ) -> None:
        self._loader = loader
        self._audit = audit
        self._on_change = on_change
        self._lock = asyncio.Lock()

    def status(self) -> list[PluginStatus]:
        return self._loader.status()

    def _load_error(self, name: str) -> str | None:
        for entry in self._loader.status():
            if entry.file == name and entry.state is PluginState.LOAD_ERROR:
                return entry.error or "load error"
        return None

    async def _record(self, record: AuditRecord) -> AuditRecord:
        await self._audit.add_audit(record)
        log.info(
            "plugin.audit",
            action=record.action,
            file=record.file,
            version_before=record.version_before,
            version_after=record.version_after,
            actor=record.actor,
            ok=record.ok,
            message=record.message,
        )
        return record

    async def _changed(self) -> None:
        if self._on_change is not None:
            await self._on_change()

    def plugin_file(self, name: str) -> str:
        """The plugin file ``name`` means: a provider id (``octopus_agile``) is the file that
        provides it in the loader's status, or, for a bundled plugin not installed yet,
        ``<id>_provider.py``; anything else is taken as a file name (and checked as one)."""
        if name.endswith(".py"):
            return name
        status = self._loader.status()
        for entry in status:
            if entry.provider_id == name:
                return entry.file
        files = {entry.file for entry in status}
        if f"{name}_provider.py" in files:
            return f"{name}_provider.py"
        if PLUGIN_NAME.fullmatch(f"{name}_provider.py"):  # an id-like name no plugin provides
            ids = sorted(e.provider_id for e in status if e.provider_id)
            raise UnknownProviderError(
                f"no plugin provides {name!r} (provider ids: {', '.join(ids) or 'none'};"
                f" files: {', '.join(sorted(files)) or 'none'})"
            )
        return name

    def _up_to_date(self, name: str) -> PluginStatus | None:
        """The status of ``name`` when updating it would change nothing."""
        for entry in self._loader.status():
            if entry.file == name and entry.state is PluginState.UP_TO_DATE:
                return entry
        return None

    async def update(self, name: str, actor: str) -> AuditRecord:
        """Copy one bundled plugin over the deployed one and reload; ``name`` is a file name
        or a provider id (:meth:`plugin_file`). An up-to-date plugin is left as it is: the
        record (ok) says ``already up to date``."""
        async with self._lock:
            try:
                name = self.plugin_file(name)
                current = self._up_to_date(name)
                if current is not None:
                    version = current.deployed_version
                    message = "already up to date"
                    if current.bundled_version != version:
                        message += f" (deployed {version}, bundled {current.bundled_version})"
                    return await self._record(
                        AuditRecord("update", name, version, version, actor, message=message)
                    )
                before, after = self._loader.update(name)
            except ProviderError as exc:
                await self._record(
                    AuditRecord(
                        "update",
                        audit_file_name(name),
                        None,
                        None,
                        actor,
                        ok=False,
                        message=str(exc),
                    )
                )
                raise
            error = self._load_error(name)
            message = f"updated; load failed: {error}" if error else "updated"
            record = await self._record(
                AuditRecord("update", name, before, after, actor, ok=error is None, message=message)
            )
        await self._changed()
        return record

    async def update_all(self, actor: str) -> list[AuditRecord]:
        """Update every bundled plugin that needs it; one record per file (or one ``*``)."""
        async with self._lock:
            try:
                updated = self._loader.update_all()
            except ProviderError as exc:
                await self._record(
                    AuditRecord("update_all", "*", None, None, actor, ok=False, message=str(exc))
                )
                raise
            if not updated:
                record = AuditRecord(
                    "update_all", "*", None, None, actor, message="nothing to update"
                )
                return [await self._record(record)]
            records: list[AuditRecord] = []
            for name, before, after in updated:
                error = self._load_error(name)
                message = f"updated; load failed: {error}" if error else "updated"
                record = AuditRecord(
                    "update_all", name, before, after, actor, ok=error is None, message=message
                )
                records.append(await self._record(record))
        await self._changed()
        return records

    async def reload(self, actor: str) -> AuditRecord:
        """Re-import every deployed plugin file."""
        async with self._lock:
            try:
                self._loader.reload()
            except ProviderError as exc:
                await self._record(
                    AuditRecord("reload", "*", None, None, actor, ok=False, message=str(exc))
                )
                raise
            loaded = sorted(self._loader.providers)
            failed = [e.file for e in self._loader.status() if e.state is PluginState.LOAD_ERROR]
            message = f"loaded: {', '.join(loaded) or 'none'}"
            if failed:
                message += f"; failed: {', '.join(failed)}"
            record = await self._record(
                AuditRecord("reload", "*", None, None, actor, message=message)
            )
        await self._changed()
        return record
