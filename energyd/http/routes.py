"""The HTTP endpoints: a table of route -> (parser into an argument model, operation).

Every endpoint but ``/healthz`` and ``/metrics`` is an operation of
:class:`~energyd.api.operations.Operations` -- the same ones the MQTT commands and the command
line call, so all surfaces answer alike (the same JSON shapes; the same audit records, written
with actor ``"http"`` here). A parser (:mod:`energyd.http.params`) turns the query, the JSON
body or the path into the operation's argument model. Adding an endpoint is one line of
:meth:`Api.add_routes`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeAlias, TypeVar

from aiohttp import web
from pydantic import BaseModel

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
    parse_arguments,
)
from energyd.api.operations import Operations
from energyd.api.replies import InfoReply
from energyd.http.auth import WritePolicy
from energyd.http.metrics import CONTENT_TYPE, FetchTally, collect_metrics, render
from energyd.http.params import body_args, query_args, reset_args

__all__ = [
    "ACTOR",
    "Api",
    "HttpInfoReply",
    "Parser",
    "body",
    "no_args",
    "path",
    "query",
    "settings_reset",
]

#: Who audit records name for plugin actions asked over HTTP.
ACTOR = "http"

ArgsT = TypeVar("ArgsT", bound=BaseModel)
#: Reads a request into an argument model.
Parser: TypeAlias = Callable[[web.Request], Awaitable[ArgsT]]
Reply: TypeAlias = Mapping[str, Any]


class HttpInfoReply(InfoReply):
    """``/api/info``: the ``info`` reply and who may change state over HTTP (``writes``:
    ``open``, ``token`` or ``refused``; the status page shows its controls by it)."""

    writes: str


def query(model: type[ArgsT]) -> Parser[ArgsT]:
    """Arguments from the query string."""

    async def parse(request: web.Request) -> ArgsT:
        return query_args(model, request.query)

    return parse


def body(model: type[ArgsT]) -> Parser[ArgsT]:
    """Arguments from a JSON object body."""

    async def parse(request: web.Request) -> ArgsT:
        return body_args(model, await request.read())

    return parse


def path(model: type[ArgsT], **fields: str) -> Parser[ArgsT]:
    """Arguments from the path: ``field=<name of the path parameter>``."""

    async def parse(request: web.Request) -> ArgsT:
        values = {name: request.match_info[param] for name, param in fields.items()}
        return parse_arguments(model, values)

    return parse


async def settings_reset(request: web.Request) -> SettingsResetArgs:
    """``DELETE /api/settings``'s query: ``?key=...`` (repeated) or ``?all=true``."""
    return reset_args(request.query)


async def no_args(_: web.Request) -> NoArgs:
    """No arguments (a query, if any, is ignored)."""
    return NoArgs()


def _ready_status(reply: Reply) -> int:
    return 200 if reply["status"] == "ready" else 503


@dataclass
class Api:
    operations: Operations
    policy: WritePolicy
    tally: FetchTally

    def add_routes(self, app: web.Application) -> None:
        ops = self.operations
        route = partial(self._route, app)
        base = "/api/drivers/energy-providers"
        route("GET", f"{base}/status", no_args, ops.providers_status)
        route(
            "POST",
            f"{base}/update/{{provider_name}}",
            path(UpdateArgs, name="provider_name"),
            partial(ops.providers_update, actor=ACTOR),
        )
        route("POST", f"{base}/update-all", no_args, partial(ops.providers_update_all, actor=ACTOR))
        route("POST", f"{base}/reload", no_args, partial(ops.providers_reload, actor=ACTOR))
        route("GET", "/api/info", no_args, self.info)
        route("GET", "/api/settings", no_args, ops.settings_get)
        route("PUT", "/api/settings", body(SettingsSetArgs), ops.settings_set)
        route("DELETE", "/api/settings", settings_reset, ops.settings_reset)
        route("POST", "/api/refresh", query(RefreshArgs), ops.refresh)
        route("GET", "/api/prices", query(PricesArgs), ops.prices)
        route("GET", "/api/cheapest", query(CheapestArgs), ops.cheapest)
        route("GET", "/api/figures", query(FiguresArgs), ops.figures)
        route("GET", "/api/audit", query(AuditArgs), ops.audit)
        route("GET", "/api/health", query(HealthArgs), ops.health)
        route("GET", "/readyz", no_args, ops.readiness, status=_ready_status)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)

    @staticmethod
    def _route(
        app: web.Application,
        method: str,
        where: str,
        parse: Parser[ArgsT],
        run: Callable[[ArgsT], Awaitable[Reply]],
        *,
        status: Callable[[Reply], int] | None = None,
    ) -> None:
        """Serve ``run`` on ``method where``: parse the request, run, answer JSON."""

        async def handle(request: web.Request) -> web.Response:
            reply = await run(await parse(request))
            return web.json_response(reply, status=200 if status is None else status(reply))

        if method == "GET":
            app.router.add_get(where, handle)  # and HEAD
        else:
            app.router.add_route(method, where, handle)

    async def info(self, args: NoArgs) -> HttpInfoReply:
        """The ``info`` operation, and who may change state over HTTP (``writes``)."""
        return {**await self.operations.info(args), "writes": self.policy.value}

    async def healthz(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def metrics(self, _: web.Request) -> web.Response:
        ops = self.operations
        text = render(await collect_metrics(ops.service, ops.broker, self.tally))
        response = web.Response(body=text.encode("utf-8"))
        response.headers["Content-Type"] = CONTENT_TYPE
        return response
