"""HTTP error replies: every failure is JSON ``{"error": {"code", "message", "details"?}}``.

Handlers raise :class:`~energyd.exceptions.CommandError` (the request cannot be served; its
``code`` is stable) or let an energyd error through; :func:`error_middleware` turns either, and
aiohttp's own HTTP errors (404, 405, 413), into a JSON reply with the right status. Codes and
statuses come from the one error table, :mod:`energyd.api.errors`. Anything
unexpected becomes a 500 with a generic message and one log line: never a stack trace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from energyd.api.errors import ErrorCode, http_status, to_command_error
from energyd.exceptions import EnergydError

__all__ = ["error_middleware", "error_response"]

log = structlog.get_logger("energyd.http")

#: The code of an error aiohttp answers itself (no such route, wrong method, body too large).
_CODE_OF_STATUS: Mapping[int, ErrorCode] = {
    400: ErrorCode.INVALID_ARGUMENT,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
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


def _from_http(exc: web.HTTPException) -> web.Response:
    fallback = ErrorCode.INVALID_ARGUMENT if exc.status < 500 else ErrorCode.FAILED
    code = _CODE_OF_STATUS.get(exc.status, fallback)
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
        status = http_status(error.code)
        if status >= 500:
            log.warning("http.failed", path=request.path, code=error.code, error=error.message)
        return error_response(status, error.code, error.message, error.details)
    except web.HTTPException as exc:
        if exc.status < 400:  # redirects and the like are answers, not errors
            raise
        return _from_http(exc)
    except Exception:
        log.exception("http.internal_error", method=request.method, path=request.path)
        message = "internal error (see the daemon's log)"
        return error_response(500, ErrorCode.INTERNAL_ERROR, message)
    log.debug("http.request", method=request.method, path=request.path, status=response.status)
    return response
