"""The HTTP endpoints: thin adapters to :class:`PriceService` and :class:`ProviderManager`.

The MQTT command handlers call the same objects, so both surfaces answer alike (the same JSON
shapes; the same audit records, written with actor ``"http"`` here).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from energyd import __version__
from energyd.core.selection import ProviderSpec
from energyd.core.service import PriceService
from energyd.domain.records import PluginState
from energyd.exceptions import CommandError, EnergydError
from energyd.http.auth import WritePolicy
from energyd.http.metrics import CONTENT_TYPE, FetchTally, collect_metrics, render
from energyd.http.params import decode_json, parse_limit, price_window
from energyd.mqtt.client import MqttClient
from energyd.providers.base import HealthState
from energyd.providers.management import ProviderManager

__all__ = ["ACTOR", "Api", "Figures"]

ACTOR = "http"
MAX_AUDIT = 1000

#: Derived figures of one provider: ``{"level", "stats": {...}, "windows": [...]}``.
Figures = Callable[[ProviderSpec, datetime], Awaitable[dict[str, Any]]]

_READY_STATES = frozenset({HealthState.OK, HealthState.DEGRADED})


@dataclass
class Api:
    service: PriceService
    manager: ProviderManager
    mqtt: MqttClient | None
    figures: Figures | None
    policy: WritePolicy
    tally: FetchTally

    def add_routes(self, app: web.Application) -> None:
        base = "/api/drivers/energy-providers"
        app.router.add_get(f"{base}/status", self.plugin_status)
        app.router.add_post(f"{base}/update/{{provider_name}}", self.update)
        app.router.add_post(f"{base}/update-all", self.update_all)
        app.router.add_post(f"{base}/reload", self.reload)
        app.router.add_get("/api/info", self.info)
        app.router.add_get("/api/settings", self.get_settings)
        app.router.add_put("/api/settings", self.put_settings)
        app.router.add_post("/api/refresh", self.refresh)
        app.router.add_get("/api/prices", self.prices)
        app.router.add_get("/api/figures", self.get_figures)
        app.router.add_get("/api/audit", self.audit)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics)

    # -- plugin management (the v1 contract's endpoints) -----------------------------------

    async def plugin_status(self, _: web.Request) -> web.Response:
        return web.json_response(await self.service.overview())

    async def update(self, request: web.Request) -> web.Response:
        record = await self.manager.update(request.match_info["provider_name"], ACTOR)
        return web.json_response(record.as_json())

    async def update_all(self, _: web.Request) -> web.Response:
        records = await self.manager.update_all(ACTOR)
        return web.json_response({"updates": [record.as_json() for record in records]})

    async def reload(self, _: web.Request) -> web.Response:
        record = await self.manager.reload(ACTOR)
        return web.json_response(record.as_json())

    # -- settings ----------------------------------------------------------------------------

    async def info(self, _: web.Request) -> web.Response:
        return web.json_response(
            {
                "version": __version__,
                "writes": self.policy.value,
                "figures": self.figures is not None,
                "selected": self.service.energy.provider_id,
                "providers": [spec.key for spec in self.service.specs()],
            }
        )

    async def get_settings(self, _: web.Request) -> web.Response:
        return web.json_response(self.service.settings_view())

    async def put_settings(self, request: web.Request) -> web.Response:
        body = decode_json(await request.read())
        if not isinstance(body, dict) or set(body) != {"values"}:
            raise CommandError("invalid_payload", 'expected {"values": {"<key>": <value>, ...}}')
        values = body["values"]
        if not isinstance(values, dict):
            raise CommandError("invalid_payload", '"values" must be an object')
        return web.json_response(await self.service.change_settings(values))

    # -- prices ------------------------------------------------------------------------------

    async def refresh(self, request: web.Request) -> web.Response:
        runs = await self.service.refresh(request.query.get("provider") or None)
        return web.json_response({"runs": [run.as_json() for run in runs]})

    async def prices(self, request: web.Request) -> web.Response:
        query = request.query
        spec = self.service.spec(query.get("provider") or None)
        now = datetime.now(UTC)
        day = query.get("day")
        extra: dict[str, Any] = {}
        if day is not None:
            if {"start", "end", "hours"} & set(query):
                raise CommandError("invalid_argument", "give day, or start/end/hours, not both")
            if day not in ("today", "tomorrow"):
                raise CommandError("invalid_argument", "day: today or tomorrow")
            calendar = self.service.calendar(spec)
            local = calendar.local_date(now) + timedelta(days=1 if day == "tomorrow" else 0)
            start, end = calendar.day_bounds(local)
            extra = {"date": local.isoformat()}
        else:
            start, end = price_window(query.get("start"), query.get("end"), now, query.get("hours"))
        return web.json_response(await self.service.price_window(spec, start, end, **extra))

    async def get_figures(self, request: web.Request) -> web.Response:
        if self.figures is None:
            raise CommandError("not_available", "derived figures are not available")
        spec = self.service.spec(request.query.get("provider") or None)
        return web.json_response(await self.figures(spec, datetime.now(UTC)))

    async def audit(self, request: web.Request) -> web.Response:
        limit = parse_limit(request.query.get("limit"), 50, MAX_AUDIT)
        records = await self.service.store.audit_log(limit)
        return web.json_response({"records": [record.as_json() for record in records]})

    # -- operations --------------------------------------------------------------------------

    async def healthz(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(self, _: web.Request) -> web.Response:
        checks = await self._checks()
        ready = all(check["ok"] for check in checks.values())
        return web.json_response(
            {"status": "ready" if ready else "not_ready", "checks": checks},
            status=200 if ready else 503,
        )

    async def _checks(self) -> dict[str, dict[str, Any]]:
        service = self.service
        checks: dict[str, dict[str, Any]] = {}
        try:
            await service.store.get_overrides()
            checks["store"] = _check(True, f"open: {service.store.path}")
        except (EnergydError, RuntimeError) as exc:
            checks["store"] = _check(False, str(exc))
        specs = service.specs()
        missing = [spec.key for spec in specs if service.plugin(spec) is None]
        broken = [s.file for s in service.loader.status() if s.state is PluginState.LOAD_ERROR]
        detail = f"loaded: {', '.join(sorted(service.loader.providers)) or 'none'}"
        if broken:
            detail += f"; failed to load: {', '.join(broken)}"
        if missing:
            detail += f"; no plugin for: {', '.join(missing)}"
        checks["plugins"] = _check(not missing, detail)
        try:
            spec = service.spec()
            report = await service.health(spec)
            checks["prices"] = _check(
                report.state in _READY_STATES,
                f"{spec.key}: {report.state.value}: {report.message}",
                state=report.state.value,
            )
        except (EnergydError, RuntimeError) as exc:
            checks["prices"] = _check(False, str(exc))
        if self.mqtt is None:
            checks["mqtt"] = _check(True, "no MQTT client in this process")
        else:
            up = self.mqtt.connected
            checks["mqtt"] = _check(up, "connected" if up else "not connected to the broker")
        return checks

    async def metrics(self, _: web.Request) -> web.Response:
        text = render(await collect_metrics(self.service, self.mqtt, self.tally))
        response = web.Response(body=text.encode("utf-8"))
        response.headers["Content-Type"] = CONTENT_TYPE
        return response


def _check(ok: bool, detail: str, **extra: Any) -> dict[str, Any]:
    return {"ok": ok, "detail": detail, **extra}
