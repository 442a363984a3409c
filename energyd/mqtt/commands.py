"""Command requests and replies (model: zigbee2mqtt's request/response topics).

A request is a JSON object published on ``<base>/request/<command>``; the reply goes to
``<base>/response/<command>`` (or the MQTT v5 Response Topic) and always has this shape::

    {"status": "ok" | "error", "data": ..., "error": null | {"code", "message", "details"?},
     "transaction": <echoed when the request carried one>}

Error codes are stable: ``payload_too_large``, ``invalid_encoding`` (not UTF-8, or a string
with a lone UTF-16 surrogate such as ``"\\ud800"``), ``invalid_json`` (also a number out of
range, such as ``1e400``), ``invalid_payload``, ``unknown_command``, ``invalid_argument``
(parsing and validation), ``invalid_response_topic`` (an MQTT v5 Response Topic energyd will
not publish to), whatever a handler's :class:`~energyd.exceptions.CommandError` says, the
code the one error table (:mod:`energyd.api.errors`) gives any other
:class:`~energyd.exceptions.EnergydError` (``unknown_provider``, ``store_unavailable``, ...,
``failed``) and ``internal_error`` (a bug; logged with its traceback, never sent).

Whatever a request holds, its reply can be serialised: :func:`parse_request` refuses every
value that JSON can spell but a reply could not echo (out-of-range numbers, lone surrogates),
and :meth:`CommandRouter.answer` turns any reply into bytes without raising.

Parsing and validation are pure; :meth:`CommandRouter.dispatch` adds the handler call.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias, TypeVar, overload

import structlog
from pydantic import BaseModel, ValidationError

from energyd import strictjson
from energyd.api.arguments import Arguments, refusal_message, validation_details
from energyd.api.errors import ErrorCode, to_command_error
from energyd.exceptions import CommandError, EnergydError
from energyd.mqtt.payloads import dumps

__all__ = [
    "MAX_REQUEST_BYTES",
    "NO_TRANSACTION",
    "CommandArgs",
    "CommandRouter",
    "ErrorCode",
    "Reply",
    "Request",
    "parse_request",
    "refused_response_topic",
]

MAX_REQUEST_BYTES: Final = 64 * 1024

log = structlog.get_logger("energyd.mqtt.commands")
#: Whether the log takes debug events: a bound structlog event costs its processors even when
#: the level drops it, so the per-request debug events ask first.
log_enabled = logging.getLogger("energyd.mqtt.commands").isEnabledFor

JsonScalar: TypeAlias = str | int | float | bool | None


class _NoTransaction(enum.Enum):
    """The request carried no ``transaction``: the reply has no such key."""

    TOKEN = enum.auto()

    def __repr__(self) -> str:
        return "NO_TRANSACTION"


NO_TRANSACTION: Final = _NoTransaction.TOKEN
Transaction: TypeAlias = JsonScalar | _NoTransaction


#: Base of command argument models (the application layer's): unknown keys are an error.
CommandArgs = Arguments


@dataclass(frozen=True, slots=True)
class Reply:
    """One reply; build with :meth:`ok` or :meth:`error`."""

    status: Literal["ok", "error"]
    data: Any = None
    error_code: str | None = None
    error_message: str | None = None
    error_details: Any = None
    transaction: Transaction = NO_TRANSACTION

    @classmethod
    def ok(cls, data: Any = None, transaction: Transaction = NO_TRANSACTION) -> Reply:
        return cls("ok", data=data, transaction=transaction)

    @classmethod
    def error(
        cls,
        code: str,
        message: str,
        details: Any = None,
        transaction: Transaction = NO_TRANSACTION,
    ) -> Reply:
        return cls(
            "error",
            error_code=code,
            error_message=message,
            error_details=details,
            transaction=transaction,
        )

    @classmethod
    def from_command_error(
        cls, exc: CommandError, transaction: Transaction = NO_TRANSACTION
    ) -> Reply:
        return cls.error(exc.code, exc.message, exc.details, transaction)

    def to_dict(self) -> dict[str, Any]:
        error: dict[str, Any] | None = None
        if self.status == "error":
            error = {"code": self.error_code, "message": self.error_message}
            if self.error_details is not None:
                error["details"] = self.error_details
        reply: dict[str, Any] = {"status": self.status, "data": self.data, "error": error}
        if self.transaction is not NO_TRANSACTION:
            reply["transaction"] = self.transaction
        return reply

    def to_bytes(self) -> bytes:
        return dumps(self.to_dict())


@dataclass(frozen=True, slots=True)
class Request:
    """A parsed request: its arguments (``transaction`` removed) and the transaction."""

    args: dict[str, Any]
    transaction: Transaction = NO_TRANSACTION


def parse_request(payload: bytes) -> Request:
    """Decode a raw request payload; raise :class:`CommandError` with a stable code.

    An empty (or all-whitespace) payload is ``{}``. Errors here come before the transaction
    is known, so their replies carry none.
    """
    if len(payload) > MAX_REQUEST_BYTES:
        raise CommandError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            f"request is {len(payload)} bytes; the limit is {MAX_REQUEST_BYTES}",
            {"size": len(payload), "limit": MAX_REQUEST_BYTES},
        )
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CommandError(
            ErrorCode.INVALID_ENCODING,
            f"request is not UTF-8: {exc.reason}",
        ) from exc
    if not text.strip():
        return Request({})
    try:
        value = strictjson.loads(text)
    except (ValueError, RecursionError) as exc:
        raise CommandError(
            ErrorCode.INVALID_JSON,
            f"request is not valid JSON: {exc}",
        ) from exc
    surrogate = strictjson.lone_surrogate(value)
    if surrogate is not None:
        raise CommandError(
            ErrorCode.INVALID_ENCODING,
            f"request holds a lone UTF-16 surrogate ({surrogate}): strings must be valid Unicode",
        )
    if not isinstance(value, dict):
        raise CommandError(
            ErrorCode.INVALID_PAYLOAD,
            f"request must be a JSON object, not {_json_type(value)}",
        )
    if "transaction" not in value:
        return Request(value)
    transaction = value.pop("transaction")
    if isinstance(transaction, dict | list):
        raise CommandError(
            ErrorCode.INVALID_ARGUMENT,
            "transaction must be a JSON scalar",
            {"transaction": f"must be a scalar, not {_json_type(transaction)}"},
        )
    return Request(value, transaction)


def refused_response_topic(payload: bytes, topic: str, reason: str) -> bytes:
    """The ``invalid_response_topic`` reply to a request (echoing its transaction, if any)."""
    try:
        transaction = parse_request(payload).transaction
    except CommandError:
        transaction = NO_TRANSACTION
    reply = Reply.error(
        ErrorCode.INVALID_RESPONSE_TOPIC,
        f"response topic refused: {reason}",
        {"response_topic": topic},
        transaction,
    )
    return reply.to_bytes()


def _json_type(value: object) -> str:
    match value:
        case None:
            return "null"
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list():
            return "an array"
        case _:
            return "an object"


ModelT = TypeVar("ModelT", bound=BaseModel)
Handler: TypeAlias = Callable[[Any], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class _Route:
    handler: Handler
    args_model: type[BaseModel] | None


class CommandRouter:
    """Command name -> async handler; :meth:`dispatch` turns a raw request into a reply."""

    def __init__(self) -> None:
        self._routes: dict[str, _Route] = {}

    @overload
    def add(
        self, name: str, handler: Callable[[ModelT], Awaitable[Any]], args_model: type[ModelT]
    ) -> None: ...

    @overload
    def add(
        self,
        name: str,
        handler: Callable[[dict[str, Any]], Awaitable[Any]],
        args_model: None = None,
    ) -> None: ...

    def add(self, name: str, handler: Handler, args_model: type[BaseModel] | None = None) -> None:
        """Register ``handler`` for ``name`` (``a-z``-style levels separated by ``/``).

        With ``args_model`` the handler gets a validated instance (unknown keys refused
        when the model derives from :class:`CommandArgs`); without, the argument dict.
        """
        levels = name.split("/")
        if not name or any(not level or set(level) & set("+#\x00") for level in levels):
            raise ValueError(f"command name {name!r}: non-empty '/'-separated levels, no wildcards")
        if name in self._routes:
            raise ValueError(f"command {name!r} is already registered")
        self._routes[name] = _Route(handler, args_model)

    def names(self) -> list[str]:
        return sorted(self._routes)

    def __contains__(self, name: object) -> bool:
        return name in self._routes

    async def dispatch(self, command: str, payload: bytes) -> Reply:
        """Parse, validate and run one request; never raises (except on cancellation)."""
        reply, _ = await self._dispatch(command, payload)
        return reply

    async def _dispatch(self, command: str, payload: bytes) -> tuple[Reply, bytes]:
        """:meth:`dispatch`, with the reply serialised (once: a reply of a few KB costs
        as much to encode as the rest of a request's handling)."""
        if log_enabled(logging.DEBUG):  # a request is answered in well under a millisecond
            log.debug("command.received", command=command, size=len(payload))
        try:
            request = parse_request(payload)
        except CommandError as exc:
            log.warning("command.failed", command=command, code=exc.code, error=exc.message)
            reply = Reply.from_command_error(exc)
            return reply, reply.to_bytes()
        transaction = request.transaction
        route = self._routes.get(command)
        if route is None:
            log.warning("command.failed", command=command, code=ErrorCode.UNKNOWN_COMMAND.value)
            reply = Reply.error(
                ErrorCode.UNKNOWN_COMMAND,
                f"unknown command {command!r}",
                {"commands": self.names()},
                transaction,
            )
            return reply, reply.to_bytes()
        reply = await self._run(route, command, request)
        try:
            return reply, reply.to_bytes()
        except (TypeError, ValueError):
            log.exception("command.failed", command=command, code=ErrorCode.INTERNAL_ERROR.value)
            message = "the command produced a reply that is not JSON"
            reply = Reply.error(ErrorCode.INTERNAL_ERROR, message, None, transaction)
            return reply, reply.to_bytes()

    async def answer(self, command: str, payload: bytes) -> bytes:
        """:meth:`dispatch` and serialise: the reply's bytes, whatever the request held.

        Never raises (except on cancellation): a reply that still cannot be serialised -- a
        bug, since parsing refuses what JSON cannot echo -- becomes ``internal_error``, without
        the transaction when that is what fails.
        """
        try:
            _, data = await self._dispatch(command, payload)
            return data
        except Exception:
            log.exception("command.failed", command=command, code=ErrorCode.INTERNAL_ERROR.value)
        transaction = _transaction_of(payload)
        fallback = Reply.error(
            ErrorCode.INTERNAL_ERROR, "internal error; see the daemon log", None, transaction
        )
        try:
            return fallback.to_bytes()
        except (TypeError, ValueError):
            return Reply.error(ErrorCode.INTERNAL_ERROR, fallback.error_message or "").to_bytes()

    @staticmethod
    async def _run(route: _Route, command: str, request: Request) -> Reply:
        transaction = request.transaction
        args: Any = request.args
        if route.args_model is not None:
            try:
                args = route.args_model.model_validate(request.args)
            except ValidationError as exc:
                details = validation_details(exc, route.args_model)
                code = ErrorCode.INVALID_ARGUMENT.value
                log.warning("command.failed", command=command, code=code)
                return Reply.error(
                    ErrorCode.INVALID_ARGUMENT, refusal_message(details), details, transaction
                )
        try:
            data = await route.handler(args)
        except CommandError as exc:
            log.warning("command.failed", command=command, code=exc.code, error=exc.message)
            return Reply.from_command_error(exc, transaction)
        except EnergydError as exc:
            error = to_command_error(exc)
            log.warning("command.failed", command=command, code=error.code, error=error.message)
            return Reply.from_command_error(error, transaction)
        except Exception:
            log.exception("command.failed", command=command, code=ErrorCode.INTERNAL_ERROR.value)
            return Reply.error(
                ErrorCode.INTERNAL_ERROR, "internal error; see the daemon log", None, transaction
            )
        if log_enabled(logging.DEBUG):
            log.debug("command.answered", command=command)
        return Reply.ok(data, transaction)


def _transaction_of(payload: bytes) -> Transaction:
    """The request's transaction, for a reply when answering failed (none if unreadable)."""
    try:
        return parse_request(payload).transaction
    except CommandError:
        return NO_TRANSACTION
