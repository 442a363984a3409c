"""Request input (query strings, JSON bodies) into the operations' argument models; pure.

The models (:mod:`energyd.api.arguments`) hold every limit and message; this module only
turns HTTP's text into the values they check:

- a query value that is empty is the same as leaving it out, and only the model's own fields
  are read: other keys (say a cache buster) are ignored as they always were, unless one is a
  near miss of a field (``earlist``), which is refused with a did-you-mean;
- a ``+`` in a date-time that arrived as a space (``...T00:00:00 01:00``) is a ``+`` again;
- a body must be strict JSON (:func:`decode_json`) holding an object.

Every refusal is a :class:`~energyd.exceptions.CommandError`: ``invalid_argument`` for a
query, ``invalid_json`` / ``invalid_payload`` for a body, the reason per field in
``details``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Final, TypeVar

from multidict import MultiMapping
from pydantic import BaseModel

from energyd import strictjson
from energyd.api.arguments import SettingsResetArgs, parse_arguments
from energyd.api.errors import ErrorCode
from energyd.domain.suggest import did_you_mean
from energyd.exceptions import CommandError

__all__ = ["TIME_FIELDS", "body_args", "decode_json", "query_args", "reset_args"]

#: Fields that hold ISO 8601 date-times (or ``HH:MM``), where a space stands for a ``+``.
TIME_FIELDS: Final = frozenset({"start", "end", "earliest", "latest"})

ArgsT = TypeVar("ArgsT", bound=BaseModel)


def decode_json(body: bytes) -> Any:
    """Strict JSON (UTF-8, finite numbers only: no NaN, Infinity or 1e999; no lone
    surrogates, which no reply or store could encode)."""
    try:
        value = strictjson.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CommandError(ErrorCode.INVALID_JSON, "the body is not UTF-8") from exc
    except (ValueError, RecursionError) as exc:
        message = f"the body is not valid JSON: {exc}"[:200]
        raise CommandError(ErrorCode.INVALID_JSON, message) from exc
    surrogate = strictjson.lone_surrogate(value)
    if surrogate is not None:
        message = f"the body holds a lone UTF-16 surrogate ({surrogate})"
        raise CommandError(ErrorCode.INVALID_JSON, message)
    return value


def _refuse_near_misses(query: Mapping[str, str], fields: Collection[str]) -> None:
    """Refuse a query key that is not a field but close to one (``earlist``): ignored, it
    would give a silently different answer. Keys far from every field stay ignored."""
    details: dict[str, str] = {}
    for key in query:
        if key in fields:
            continue
        hint = did_you_mean(key, fields)
        if hint:
            details[key[:100]] = f"unknown key; {hint}"
    if details:
        key, reason = next(iter(details.items()))
        raise CommandError(
            ErrorCode.INVALID_ARGUMENT, f"invalid arguments: {key}: {reason}", details
        )


def query_args(model: type[ArgsT], query: Mapping[str, str]) -> ArgsT:
    """The model's fields from a query string (the first value of each key)."""
    _refuse_near_misses(query, model.model_fields)
    data: dict[str, Any] = {}
    for name in model.model_fields:
        value = query.get(name)
        if value is None or value == "":
            continue
        data[name] = value.strip().replace(" ", "+") if name in TIME_FIELDS else value
    return parse_arguments(model, data)


def reset_args(query: MultiMapping[str]) -> SettingsResetArgs:
    """``DELETE /api/settings``: ``?key=<dotted key>`` (repeated for more) or ``?all=true``."""
    _refuse_near_misses(query, ("key", "all"))
    data: dict[str, Any] = {}
    if "key" in query:
        data["keys"] = [value.strip() for value in query.getall("key")]
    if query.get("all", "") != "":
        data["all"] = query["all"]
    return parse_arguments(SettingsResetArgs, data)


def body_args(model: type[ArgsT], body: bytes) -> ArgsT:
    """The model from a JSON object body."""
    value = decode_json(body)
    if not isinstance(value, dict):
        raise CommandError(ErrorCode.INVALID_PAYLOAD, "the body must be a JSON object")
    return parse_arguments(model, value, ErrorCode.INVALID_PAYLOAD)
