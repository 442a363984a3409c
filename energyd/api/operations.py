"""Every use case of energyd, once: the MQTT commands, the HTTP routes and the command line
call these methods and only translate requests and replies.

Each method takes its argument model (:mod:`energyd.api.arguments`) and returns the reply, a
JSON-ready dict of its shape (:mod:`energyd.api.replies`). It raises energyd's own errors;
each surface turns them into its reply with the one error table (:mod:`energyd.api.errors`).
Methods that write an audit record take the ``actor`` (``"mqtt"``, ``"http"``, ``"cli"``).

Adding an operation: a method here (and its argument model), then one line per surface --
``mqtt/handlers.py``, ``http/routes.py`` and, where it helps, ``cli.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from energyd import __version__
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
    check_period,
    check_slot_multiple,
)
from energyd.api.derived import known_currency, series_head, window_payload
from energyd.api.errors import ErrorCode
from energyd.api.health import Assessment, assess, broker_json
from energyd.api.ports import BrokerStatus, FiguresSource
from energyd.api.replies import (
    AuditRecordJson,
    AuditReply,
    FiguresReply,
    HealthReply,
    InfoReply,
    OverviewReply,
    PriceWindowReply,
    ReadinessReply,
    RefreshReply,
    SettingsChangeReply,
    SettingsReply,
    SettingsResetReply,
    UpdateAllReply,
    WindowReply,
)
from energyd.core.service import PriceService
from energyd.core.store import PriceStore
from energyd.domain.figures import find_window, window_period
from energyd.domain.records import FetchOutcome
from energyd.exceptions import CommandError
from energyd.providers.management import ProviderManager

__all__ = ["Operations"]


class Operations:
    """The application layer over the core objects.

    ``figures`` builds the derived figures (None: the ``figures`` operation answers
    ``not_available``); ``broker`` is the process's MQTT connection, if it has one.
    """

    def __init__(
        self,
        service: PriceService,
        manager: ProviderManager,
        store: PriceStore,
        *,
        figures: FiguresSource | None = None,
        broker: BrokerStatus | None = None,
    ) -> None:
        self.service = service
        self._manager = manager
        self._store = store
        self._figures = figures
        self.broker = broker

    # -- prices ------------------------------------------------------------------------------

    async def refresh(self, args: RefreshArgs) -> RefreshReply:
        """Fetch one provider now, or every running one.

        A fetch that fails is a :class:`CommandError` ``fetch_failed``: the message names each
        failed run's provider, region and error, ``details.runs`` holds every run (the ones
        that succeeded too) as the reply would have. A source that has not published yet
        (outcome ``waiting``) is no failure."""
        runs = [run.as_json() for run in await self.service.refresh(args.provider)]
        failed = [run for run in runs if run["outcome"] == FetchOutcome.ERROR]
        if failed:
            reasons = "; ".join(
                f"{run['provider']} {run['region']}: {run['error_type']}: {run['error']}"
                for run in failed
            )
            raise CommandError(ErrorCode.FETCH_FAILED, f"fetch failed: {reasons}", {"runs": runs})
        return {"runs": runs}

    async def prices(self, args: PricesArgs) -> PriceWindowReply:
        """Stored prices of a window, or of the market's local day (``date`` added)."""
        spec = self.service.spec(args.provider)
        now = datetime.now(UTC)
        if args.day is None:
            start, end = args.window(now)
            return await self.service.price_window(spec, start, end)
        calendar = self.service.calendar(spec)
        local = calendar.local_date(now) + timedelta(days=1 if args.day == "tomorrow" else 0)
        start, end = calendar.day_bounds(local)
        return await self.service.price_window(spec, start, end, date=local.isoformat())

    async def cheapest(self, args: CheapestArgs) -> WindowReply:
        """The cheapest (or dearest) window of the stored prices: a window payload."""
        runtime = self.service.runtime(args.provider)  # once: a command is ~1 ms in all
        spec = runtime.spec
        check_slot_multiple(args.minutes, runtime.slot_minutes, spec.key)
        now = datetime.now(UTC)
        if isinstance(args.earliest, datetime) or isinstance(args.latest, datetime):
            start = args.earliest if isinstance(args.earliest, datetime) else now
            end = args.latest if isinstance(args.latest, datetime) else start + timedelta(days=1)
            period = check_period(start.astimezone(UTC), end.astimezone(UTC))
        else:
            calendar = runtime.calendar
            period = check_period(*window_period(now, calendar, args.earliest, args.latest))
        slots = await self.service.slots(runtime, *period)
        window = find_window(
            slots,
            args.minutes,
            *period,
            contiguous=args.contiguous,
            mode=args.mode,
            not_before=now,
        )
        currency = known_currency(runtime.currency, slots)
        head = series_head(spec.key, spec.region, currency)
        return window_payload(
            head,
            name=None,
            window=window,
            mode=args.mode,
            minutes=args.minutes,
            contiguous=args.contiguous,
            period=period,
        )

    async def figures(self, args: FiguresArgs) -> FiguresReply:
        """Level, statistics and standing windows of one provider, as published."""
        if self._figures is None:
            raise CommandError(ErrorCode.NOT_AVAILABLE, "derived figures are not available")
        spec = self.service.spec(args.provider)
        return await self._figures.figures(spec, datetime.now(UTC))

    # -- settings ----------------------------------------------------------------------------

    async def settings_get(self, _: NoArgs) -> SettingsReply:
        """Effective settings (file, environment and run-time overrides), secrets redacted."""
        return self.service.settings_view()

    async def settings_set(self, args: SettingsSetArgs) -> SettingsChangeReply:
        """Validate (the plugin's ``validate_config``), persist, apply, then fetch."""
        return await self.service.change_settings(args.changes())

    async def settings_reset(self, args: SettingsResetArgs) -> SettingsResetReply:
        """Drop run-time overrides (the keys given, or all) so the file and environment apply
        again, then fetch for the providers that changed; a key that is not overridden is an
        ``invalid_setting`` naming it (nothing is dropped then)."""
        return await self.service.reset_settings(args.selected())

    # -- plugins -----------------------------------------------------------------------------

    async def providers_status(self, _: NoArgs) -> OverviewReply:
        """Every plugin file's status and every running provider's health."""
        return await self.service.overview()

    async def providers_update(self, args: UpdateArgs, *, actor: str) -> AuditRecordJson:
        """Copy one bundled plugin over the deployed one and reload (audited)."""
        record = await self._manager.update(args.name, actor)
        return record.as_json()

    async def providers_update_all(self, _: NoArgs, *, actor: str) -> UpdateAllReply:
        """The same for every outdated plugin (audited)."""
        records = await self._manager.update_all(actor)
        return {"updates": [record.as_json() for record in records]}

    async def providers_reload(self, _: NoArgs, *, actor: str) -> AuditRecordJson:
        """Re-import the deployed plugin files (audited)."""
        record = await self._manager.reload(actor)
        return record.as_json()

    async def audit(self, args: AuditArgs) -> AuditReply:
        """The newest audit records, at most ``limit``."""
        records = await self._store.audit_log(args.limit)
        return {"records": [record.as_json() for record in records]}

    # -- health ------------------------------------------------------------------------------

    async def assessment(self) -> Assessment:
        """The one judgement of health that :meth:`health` and :meth:`readiness` report."""
        return await assess(self.service, self._store, self.broker)

    async def health(self, args: HealthArgs) -> HealthReply:
        """Each provider's health, the event loop, the broker, and ``ok`` (see
        :mod:`energyd.api.health`); ``probe`` also runs each plugin's ``health_check``."""
        assessment = await self.assessment()
        reply: HealthReply = {
            "mqtt_connected": self.broker is not None and self.broker.connected,
            "broker": broker_json(self.broker),
            "store": str(self._store.path),
            "providers": {key: report.as_json() for key, report in assessment.reports.items()},
            "ok": assessment.ok,
            "checks": assessment.checks_json(),
            "event_loop": self.service.faults.event_loop_json(),
        }
        if args.probe:
            specs = self.service.specs()
            reply["probes"] = {spec.key: await self.service.probe(spec) for spec in specs}
        return reply

    async def readiness(self, _: NoArgs) -> ReadinessReply:
        """``{"status": "ready" | "not_ready", "checks": {part: {"ok", "detail", ...}}}``."""
        assessment = await self.assessment()
        return {
            "status": "ready" if assessment.ok else "not_ready",
            "checks": assessment.checks_json(),
        }

    async def info(self, _: NoArgs) -> InfoReply:
        """Version, whether figures are available, the selected and the running providers."""
        return {
            "version": __version__,
            "figures": self._figures is not None,
            "selected": self.service.energy.provider_id,
            "providers": [spec.key for spec in self.service.specs()],
        }
