"""structlog set-up: key/value events, a console renderer on a TTY and JSON lines otherwise.

Standard-library loggers (aiohttp, aiomqtt, aiosqlite) go through the same renderer. Floats
in an event are rounded to :data:`FLOAT_DIGITS` significant digits (never fewer than their
integer part): a duration of 0.123456789 s is logged as 0.1235.
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import MutableMapping
from typing import Any, Final, Literal, TextIO

import structlog

__all__ = ["FLOAT_DIGITS", "configure_logging", "round_floats", "rounded"]

#: Significant digits a logged float keeps.
FLOAT_DIGITS: Final = 4

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def rounded(value: Any, depth: int = 0) -> Any:
    """``value`` with its floats (also inside lists, tuples and dicts, three levels deep)
    rounded to :data:`FLOAT_DIGITS` significant digits, keeping the integer part whole."""
    if isinstance(value, float):
        if value == 0 or not math.isfinite(value):
            return value
        magnitude = math.floor(math.log10(abs(value)))
        return round(value, max(0, FLOAT_DIGITS - 1 - magnitude))
    if depth >= 3:
        return value
    if isinstance(value, list | tuple):
        return type(value)(rounded(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return {key: rounded(item, depth + 1) for key, item in value.items()}
    return value


def round_floats(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor: every float of the event rounded (:func:`rounded`)."""
    for key, value in event_dict.items():
        if isinstance(value, float | list | tuple | dict):
            event_dict[key] = rounded(value)
    return event_dict


def configure_logging(
    level: str = "info",
    fmt: Literal["auto", "console", "json"] = "auto",
    stream: TextIO | None = None,
) -> None:
    """Configure structlog and stdlib logging once for the process."""
    out = stream or sys.stderr
    use_console = fmt == "console" or (fmt == "auto" and out.isatty())
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        round_floats,
    ]
    renderer: structlog.typing.Processor
    if use_console:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    else:
        renderer = structlog.processors.JSONRenderer()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *([] if use_console else [structlog.processors.format_exc_info]),
            renderer,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(_LEVELS.get(level, logging.INFO))
