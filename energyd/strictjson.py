"""Strict JSON for untrusted input (MQTT requests, HTTP bodies): only values a reply can echo.

JSON's grammar allows two things a reply cannot carry back: numbers beyond a float
(``1e400`` parses as infinity, which JSON cannot spell) and lone UTF-16 surrogates
(``"\\ud800"``, which UTF-8 cannot encode). :func:`loads` refuses the first, and ``NaN`` /
``Infinity``; :func:`lone_surrogate` finds the second. Pure.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = ["loads", "lone_surrogate"]

_SURROGATE = re.compile("[\ud800-\udfff]")


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def loads(text: str) -> Any:
    """``json.loads`` with finite numbers only; raises ``ValueError`` (or ``RecursionError``)."""
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)


def lone_surrogate(value: object) -> str | None:
    """The first lone surrogate in any string or key of ``value`` (as ``\\udXXX``), or None.

    Iterative: the parser already bounds the depth, and this walk adds no recursion of its own.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            texts: list[str] = [item]
        elif isinstance(item, dict):
            texts = [key for key in item if isinstance(key, str)]
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
            continue
        else:
            continue
        for text in texts:
            found = _SURROGATE.search(text)
            if found is not None:
                return f"\\u{ord(found.group()):04x}"
    return None
