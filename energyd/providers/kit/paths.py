"""Path expressions for plugins: JMESPath (https://jmespath.org), compiled once, searched safely.

A plugin (or a user's config) names where the prices sit in a JSON answer with a JMESPath
expression instead of code::

    entries = compile_path("indicator.values[?geo_name=='Península']")
    rows = entries.search(body)          # a list, or None where nothing matches
    compile_path("readingDate").search(rows[0])

- :func:`compile_path` parses an expression once (and remembers it); a bad expression, or one
  calling a function JMESPath does not have (or with the wrong number of arguments), is a
  :class:`ProviderConfigError` naming the problem, so it is refused when the config is
  validated, not at the first fetch.
- :meth:`PathExpression.search` runs it; what JMESPath refuses at run time (``sum()`` of
  strings, ``zip()`` of arrays of different lengths) is a :class:`ProviderDataError`: the
  answer is not what the expression expects.
- :class:`JsonPath` is the config field of such an expression (``ConfigFields``): its reason
  is the parser's message.

Standard JMESPath plus one function: ``zip(a, b, ...)`` pairs arrays element by element
(``zip(unix_seconds, price)`` -> ``[[t0, p0], [t1, p1], ...]``), for answers that keep times
and prices in parallel arrays (Energy-Charts); arrays of different lengths are refused, never
cut short. JMESPath itself has no way to pair two arrays by index.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import jmespath
import jmespath.exceptions
import jmespath.functions

from energyd.exceptions import ProviderConfigError, ProviderDataError
from energyd.providers.kit.config import InvalidValue, Text

__all__ = ["JsonPath", "PathExpression", "compile_path"]

#: Longest expression accepted (a config value, not a program).
MAX_PATH_LENGTH = 1000


class _Functions(jmespath.functions.Functions):  # type: ignore[misc]  # untyped library
    """JMESPath's built-in functions and ``zip``."""

    @jmespath.functions.signature(  # type: ignore[untyped-decorator]
        {"types": ["array"]}, {"types": ["array"], "variadic": True}
    )
    def _func_zip(self, *arrays: list[Any]) -> list[list[Any]]:
        lengths = {len(array) for array in arrays}
        if len(lengths) > 1:
            raise ValueError(f"zip() of arrays of different lengths {sorted(lengths)}")
        return [list(row) for row in zip(*arrays, strict=True)]


_OPTIONS = jmespath.Options(custom_functions=_Functions())
_TABLE = cast("dict[str, dict[str, Any]]", _Functions.FUNCTION_TABLE)


def _arity(name: str, given: int) -> str | None:
    """Why ``given`` arguments do not fit function ``name``, or ``None``."""
    spec = _TABLE.get(name)
    if spec is None:
        return f"unknown function {name}()"
    params = spec["signature"]
    variadic = bool(params) and bool(params[-1].get("variadic"))
    if given == len(params) or (variadic and given >= len(params)):
        return None
    wanted = f"at least {len(params)}" if variadic else str(len(params))
    return f"{name}() takes {wanted} argument(s), not {given}"


def _function_problems(node: Any) -> Iterator[str]:
    """What is wrong with the function calls of an expression's syntax tree."""
    if isinstance(node, dict):
        children = node.get("children", ())
        if node.get("type") == "function_expression":
            problem = _arity(str(node.get("value")), len(children))
            if problem is not None:
                yield problem
        for child in children:
            yield from _function_problems(child)
    elif isinstance(node, list):
        for child in node:
            yield from _function_problems(child)


@dataclass(frozen=True, slots=True, eq=False)
class PathExpression:
    """One compiled JMESPath expression (see the module docstring)."""

    text: str
    _parsed: Any

    def search(self, data: Any, what: str = "") -> Any:
        """The value the expression selects in ``data`` (``None`` where nothing matches);
        a run-time refusal is a :class:`ProviderDataError` (``what`` says where)."""
        try:
            return self._parsed.search(data, options=_OPTIONS)
        except (jmespath.exceptions.JMESPathError, ValueError, RecursionError) as exc:
            where = f"{what}: " if what else ""
            raise ProviderDataError(f"{where}{self.text!r} failed on the answer: {exc}") from exc

    def __repr__(self) -> str:
        return f"PathExpression({self.text!r})"


def _reason(text: str) -> str | None:
    """Why ``text`` is not a usable expression, or ``None``."""
    if not isinstance(text, str) or not text.strip():
        return "an empty expression"
    if len(text) > MAX_PATH_LENGTH:
        return f"longer than {MAX_PATH_LENGTH} characters"
    try:
        parsed = jmespath.compile(text)
    except jmespath.exceptions.JMESPathError as exc:
        detail = " ".join(str(exc).split())
        return f"not a JMESPath expression: {detail}"
    problems = list(dict.fromkeys(_function_problems(parsed.parsed)))
    return "; ".join(problems) if problems else None


@functools.lru_cache(maxsize=512)
def compile_path(text: str) -> PathExpression:
    """``text`` compiled (once per distinct text); :class:`ProviderConfigError` when it is
    not a JMESPath expression or calls an unknown function."""
    reason = _reason(text)
    if reason is not None:
        raise ProviderConfigError(f"path {text[:80]!r}: {reason}", {"path": reason})
    return PathExpression(text, jmespath.compile(text))


@dataclass(frozen=True, kw_only=True, init=False)
class JsonPath(Text):
    """A config field holding a JMESPath expression; refused with the parser's reason. The
    value stays the expression's text (:func:`compile_path` gives the compiled one)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(max_length=MAX_PATH_LENGTH, **options)

    def convert(self, value: Any) -> Any:
        text = super().convert(value)
        reason = _reason(text)
        if reason is not None:
            raise InvalidValue(reason)
        return text

    def expected(self) -> str:
        return self.description or "a JMESPath expression"

    def type_schema(self) -> dict[str, Any]:
        return {**super().type_schema(), "format": "jmespath"}
