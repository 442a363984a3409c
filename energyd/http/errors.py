"""HTTP error replies: every failure is JSON ``{"error": {"code", "message", "details"?}}``.

Handlers raise :class:`~energyd.exceptions.CommandError` (the request cannot be served; its
``code`` is stable) or let an energyd error through; :func:`error_middleware` turns either, and
aiohttp's own HTTP errors (404, 405, 413), into a JSON reply with the right status. Anything
unexpected becomes a 500 with a generic message and one log line: never a stack trace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from energyd.exceptions import (
    CommandError,
    ConfigError,
    EnergydError,
    PluginNameError,
    ProviderConfigError,
    StoreError,
    UnknownProviderError,
)

__all__ = ["STATUS_OF_CODE", "error_middleware", "error_response", "to_command_error"]

log = structlog.get_logger("energyd.http")

#: HTTP status of each error code (a code not listed is a 400).
STATUS_OF_CODE: Mapping[str, int] = {
    "invalid_json": 400,
    "invalid_payload": 400,
    "invalid_argument": 400,
    "invalid_name": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "unknown_provider": 404,
    "not_available": 404,
    "method_not_allowed": 405,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "invalid_setting": 422,
    "invalid_config": 422,
    "failed": 500,
    "internal_error": 500,
    "store_unavailable": 503,
}

_CODE_OF_STATUS: Mapping[int, str] = {
    400: "invalid_argument",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_response(
    status: int,
    code: str,
    message: str,
    details: object = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    response = web.json_response({"error": body}, status=status)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="energyd"'
    return response


def to_command_error(exc: EnergydError) -> CommandError:
    """The stable code (and details) a client can act on for an energyd error."""
    if isinstance(exc, CommandError):
        return exc
    if isinstance(exc, PluginNameError):
        return CommandError("invalid_name", str(exc))
    if isinstance(exc, UnknownProviderError):
        return CommandError("unknown_provider", str(exc))
    if isinstance(exc, ProviderConfigError):
        return CommandError("invalid_config", str(exc), exc.errors)
    if isinstance(exc, ConfigError):
        return CommandError("invalid_setting", str(exc), exc.errors)
    if isinstance(exc, StoreError):
        return CommandError("store_unavailable", str(exc))
    return CommandError("failed", str(exc))


def _from_http(exc: web.HTTPException) -> web.Response:
    code = _CODE_OF_STATUS.get(exc.status, "invalid_argument" if exc.status < 500 else "failed")
    message = exc.reason
    if exc.status == 404:
        message = "no such endpoint"
    elif exc.status == 413:
        message = "request body too large"
    headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
    return error_response(exc.status, code, message, headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """JSON for every error; a log line (no trace to the client) for the unexpected."""
    try:
        response = await handler(request)
    except EnergydError as exc:
        error = to_command_error(exc)
        status = STATUS_OF_CODE.get(error.code, 400)
        if status >= 500:
            log.warning("http.failed", path=request.path, code=error.code, error=error.message)
        return error_response(status, error.code, error.message, error.details)
    except web.HTTPException as exc:
        if exc.status < 400:  # redirects and the like are answers, not errors
            raise
        return _from_http(exc)
    except Exception:
        log.exception("http.internal_error", method=request.method, path=request.path)
        return error_response(500, "internal_error", "internal error (see the daemon's log)")
    log.debug("http.request", method=request.method, path=request.path, status=response.status)
    return response
