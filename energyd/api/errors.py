"""The one error table of every surface: stable codes, exception -> code, code -> HTTP status.

An operation raises energyd's own errors (:mod:`energyd.exceptions`); each surface turns them
into a reply with :func:`to_command_error`, so a failure has the same code over MQTT, HTTP
and in the command line's message. ``failed`` is what an energyd error without a code of its
own becomes; ``internal_error`` is a bug (never an energyd error).

Adding a code: a member of :class:`ErrorCode` and its line in :data:`HTTP_STATUS` (a test
checks that every code has one).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Final

from energyd.exceptions import (
    CommandError,
    ConfigError,
    EnergydError,
    PluginNameError,
    ProviderConfigError,
    StoreError,
    UnknownProviderError,
)

__all__ = [
    "CODE_OF_EXCEPTION",
    "HTTP_STATUS",
    "ErrorCode",
    "code_of",
    "http_status",
    "to_command_error",
]


class ErrorCode(enum.StrEnum):
    """Every error code a reply can carry, on any surface."""

    # reading the request (MQTT payloads, HTTP bodies)
    PAYLOAD_TOO_LARGE = "payload_too_large"
    INVALID_ENCODING = "invalid_encoding"
    INVALID_JSON = "invalid_json"
    INVALID_PAYLOAD = "invalid_payload"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    # finding what to run
    UNKNOWN_COMMAND = "unknown_command"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    INVALID_RESPONSE_TOPIC = "invalid_response_topic"
    # who may run it (HTTP)
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    # the arguments, and the operations' own errors
    INVALID_ARGUMENT = "invalid_argument"
    INVALID_NAME = "invalid_name"
    UNKNOWN_PROVIDER = "unknown_provider"
    NOT_AVAILABLE = "not_available"
    INVALID_SETTING = "invalid_setting"
    INVALID_CONFIG = "invalid_config"
    STORE_UNAVAILABLE = "store_unavailable"
    #: A fetch the operation ran failed (``refresh``); ``details.runs`` holds every run.
    FETCH_FAILED = "fetch_failed"
    FAILED = "failed"
    INTERNAL_ERROR = "internal_error"


#: The HTTP status of each code.
HTTP_STATUS: Final[Mapping[ErrorCode, int]] = {
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.INVALID_ENCODING: 400,
    ErrorCode.INVALID_JSON: 400,
    ErrorCode.INVALID_PAYLOAD: 400,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.UNKNOWN_COMMAND: 404,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.INVALID_RESPONSE_TOPIC: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.INVALID_ARGUMENT: 400,
    ErrorCode.INVALID_NAME: 400,
    ErrorCode.UNKNOWN_PROVIDER: 404,
    ErrorCode.NOT_AVAILABLE: 404,
    ErrorCode.INVALID_SETTING: 422,
    ErrorCode.INVALID_CONFIG: 422,
    ErrorCode.STORE_UNAVAILABLE: 503,
    ErrorCode.FETCH_FAILED: 502,
    ErrorCode.FAILED: 500,
    ErrorCode.INTERNAL_ERROR: 500,
}

#: The errors a client can act on, most specific first: the first match gives the code.
CODE_OF_EXCEPTION: Final[tuple[tuple[type[EnergydError], ErrorCode], ...]] = (
    (PluginNameError, ErrorCode.INVALID_NAME),
    (UnknownProviderError, ErrorCode.UNKNOWN_PROVIDER),
    (ProviderConfigError, ErrorCode.INVALID_CONFIG),
    (ConfigError, ErrorCode.INVALID_SETTING),
    (StoreError, ErrorCode.STORE_UNAVAILABLE),
)


def code_of(exc: EnergydError) -> str:
    """The stable code of ``exc`` (a :class:`CommandError` says its own)."""
    if isinstance(exc, CommandError):
        return exc.code
    for kind, code in CODE_OF_EXCEPTION:
        if isinstance(exc, kind):
            return code
    return ErrorCode.FAILED


def http_status(code: str) -> int:
    """The HTTP status of ``code``; a code not in the table is a 400 (as it always was)."""
    try:
        return HTTP_STATUS[ErrorCode(code)]
    except ValueError:
        return 400


def to_command_error(exc: EnergydError) -> CommandError:
    """``exc`` as a reply can carry it: its code, its message, and the per-field reasons of a
    config error as ``details`` (``failed`` also names the error type)."""
    if isinstance(exc, CommandError):
        return exc
    code = code_of(exc)
    errors = getattr(exc, "errors", None)
    field_errors = dict(errors) if isinstance(errors, Mapping) and errors else None
    if code == ErrorCode.FAILED:
        details: dict[str, Any] = {"type": type(exc).__name__}
        if field_errors:
            details["errors"] = field_errors
        return CommandError(code, str(exc) or type(exc).__name__, details)
    return CommandError(code, str(exc) or type(exc).__name__, field_errors)
