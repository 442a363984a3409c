"""A seeded corpus of invalid MQTT command requests, and what energyd must answer (pure; no I/O).

:func:`corpus` (or :func:`cases`, which also names each request's category) cycles over
:data:`CATEGORIES`; the same seed, count and commands give the same requests, byte for byte.
Every request is invalid by construction -- for the topic it goes to, whatever else it holds --
so every reply must be an error:

=================  ===============================================================================
random_bytes       random binary, or random JSON-ish punctuation that is not a JSON object
invalid_utf8       an object with overlong, truncated, surrogate or out-of-range UTF-8 (or a BOM)
lone_surrogate     escaped ``\\ud800``-style lone surrogates in values, keys, ``transaction``,
                   nested keys (``{"values": {"energy.providers.octopus_agile.\\ud800": 1}}``)
non_object         JSON arrays, strings, numbers, ``null``, ``true``
deep_nesting       10 000+ levels of ``[`` or ``{"a":``, and moderately deep (parsable) values
oversize           bodies over 64 KiB (65 537 bytes to 70 KiB)
bad_number         ``1e400``, ``-1e400``, ``NaN``, ``Infinity``, ``1e309``, ``1e308*10``, a
                   310-digit float and a 5 001-digit integer, in ``transaction`` or an argument
wrong_type         each command's arguments with the wrong types or missing (energyd/handlers.py)
unknown_key        a key no argument model has
unknown_command    topics no command has (``request/does-not-exist``, ``request/prices/extra``)
fake_name          names that pass the argument model but are not real: provider ids, plugin file
                   names (``../../etc/passwd``, ``x_provider.py``), settings keys
edge_value         well-typed values outside what a command accepts: datetimes at the ends of the
                   calendar, windows over 31 days or ending before they start, a region ``Z``
bad_transaction    a ``transaction`` that is an array or an object
=================  ===============================================================================

About half the requests carry a ``transaction`` (a random scalar, sometimes a weird one).

:func:`expect` derives, from a request alone, the error codes energyd may answer and whether it
must echo the transaction, checking in the order energyd does: size, UTF-8, JSON (numbers out of
range are ``invalid_json``), lone surrogates (``invalid_encoding``), object, transaction, command,
arguments.
"""

from __future__ import annotations

import json
import random
import re
import string
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from energyd import strictjson

__all__ = [
    "ARGUMENT_CODES",
    "CATEGORIES",
    "COMMANDS",
    "DOCUMENTED_CODES",
    "MAX_REQUEST_BYTES",
    "MISSING",
    "UNKNOWN_COMMANDS",
    "Case",
    "Expectation",
    "cases",
    "corpus",
    "expect",
    "has_lone_surrogate",
]

#: The README's limit: a larger request is ``payload_too_large``.
MAX_REQUEST_BYTES: Final = 64 * 1024
#: The largest request the corpus holds.
MAX_CORPUS_BYTES: Final = 70 * 1024

#: The commands the README documents, each with an argument model in energyd/handlers.py.
COMMANDS: Final = (
    "refresh",
    "providers/status",
    "providers/update",
    "providers/update-all",
    "providers/reload",
    "prices",
    "cheapest",
    "settings/get",
    "settings/set",
    "health",
)

#: The README's error codes, plus ``invalid_response_topic`` (a refused MQTT v5 Response Topic).
#: ``internal_error`` is documented, but as a bug: never the right answer to a request.
DOCUMENTED_CODES: Final = frozenset(
    {
        "payload_too_large",
        "invalid_encoding",
        "invalid_json",
        "invalid_payload",
        "unknown_command",
        "invalid_argument",
        "unknown_provider",
        "invalid_name",
        "invalid_setting",
        "invalid_config",
        "not_available",
        "store_unavailable",
        "failed",
        "fetch_failed",
        "internal_error",
        "invalid_response_topic",
    }
)

#: What a well-formed object with bad arguments may get, per command.
ARGUMENT_CODES: Final = {
    "refresh": frozenset({"invalid_argument", "unknown_provider", "fetch_failed"}),
    "providers/update": frozenset({"invalid_argument", "invalid_name", "unknown_provider"}),
    "prices": frozenset({"invalid_argument", "unknown_provider"}),
    "cheapest": frozenset({"invalid_argument", "unknown_provider"}),
    "settings/set": frozenset({"invalid_argument", "invalid_setting", "invalid_config"}),
    "settings/reset": frozenset({"invalid_argument", "invalid_setting", "invalid_config"}),
}
_NO_ARGS_CODES: Final = frozenset({"invalid_argument"})
_ANY_ERROR: Final = DOCUMENTED_CODES - {"internal_error"}

#: Command topics no command has (each a valid MQTT topic: no wildcards, NUL or control chars).
UNKNOWN_COMMANDS: Final = (
    "does-not-exist",
    "prices/extra",
    "PRICES",
    "health/",
    "providers",
    "request",
    "response/health",
    "settings/set/x",
    "pr\u00efces",
    "cheapest ",
    "providers//status",
    "x" * 300,
)

CATEGORIES: Final = (
    "random_bytes",
    "invalid_utf8",
    "lone_surrogate",
    "non_object",
    "deep_nesting",
    "oversize",
    "bad_number",
    "wrong_type",
    "unknown_key",
    "unknown_command",
    "fake_name",
    "edge_value",
    "bad_transaction",
)
#: Categories whose payload is refused before the command is looked up: sent to unknown topics
#: now and then too.
_ANY_TOPIC: Final = frozenset(
    {
        "random_bytes",
        "invalid_utf8",
        "lone_surrogate",
        "non_object",
        "deep_nesting",
        "oversize",
        "bad_number",
        "bad_transaction",
    }
)


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: The request carried no ``transaction``.
MISSING: Final = _Missing()


@dataclass(frozen=True, slots=True)
class Case:
    """One request of the corpus."""

    category: str
    command: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class Expectation:
    """What energyd may answer to one request.

    ``parsed``: the payload is an object energyd could read, so the reply must echo
    ``transaction`` exactly (or carry none when it is :data:`MISSING`).
    """

    codes: frozenset[str]
    parsed: bool = False
    transaction: Any = field(default=MISSING)


# -- what energyd must answer -----------------------------------------------------------------


def has_lone_surrogate(value: object) -> bool:
    """Whether any string or key in ``value`` holds a lone UTF-16 surrogate."""
    return strictjson.lone_surrogate(value) is not None


def _only(code: str) -> Expectation:
    return Expectation(frozenset({code}))


def expect(command: str, payload: bytes, commands: Collection[str] = COMMANDS) -> Expectation:
    """The error codes energyd may answer to ``payload`` on ``<base>/request/<command>``."""
    if len(payload) > MAX_REQUEST_BYTES:
        return _only("payload_too_large")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return _only("invalid_encoding")
    value: Any = {}
    if text.strip():
        try:
            value = strictjson.loads(text)
        except (ValueError, RecursionError):
            return _only("invalid_json")
    if has_lone_surrogate(value):
        return _only("invalid_encoding")
    if not isinstance(value, dict):
        return _only("invalid_payload")
    transaction = value.pop("transaction", MISSING)
    if isinstance(transaction, dict | list):
        return _only("invalid_argument")
    if command not in commands:
        codes = frozenset({"unknown_command"})
    elif command in COMMANDS:
        codes = ARGUMENT_CODES.get(command, _NO_ARGS_CODES)
    else:  # a command this module does not know: any documented error will do
        codes = _ANY_ERROR
    return Expectation(codes, parsed=True, transaction=transaction)


# -- building blocks --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Raw:
    """JSON text inserted as it is (numbers JSON's grammar allows but Python would not write)."""

    text: str


def _json(value: Any) -> str:
    """JSON text of ``value``; lone surrogates come out escaped (``\\ud800``), ``_Raw`` as is."""
    if isinstance(value, _Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_json(str(k))}: {_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_json(item) for item in value) + "]"
    return json.dumps(value)


def _encode(value: Any) -> bytes:
    return _json(value).encode("ascii")


_WEIRD_TRANSACTIONS: Final[tuple[Any, ...]] = (
    "",
    " ",
    "\u0000",
    "\u2028\u2029",
    "\U0001f600",
    "caf\u00e9",
    "t" * 2000,
    '"',
    "\\",
    "</script>",
    "null",
    0,
    -1,
    -0.0,
    0.1,
    1e-300,
    1.7976931348623157e308,
    2**63,
    2**64 + 1,
    10**100,
    True,
    False,
    None,
)


def _transaction(rng: random.Random) -> Any:
    """A JSON scalar: usually plain, a quarter of the time a weird one."""
    roll = rng.random()
    if roll < 0.25:
        return rng.choice(_WEIRD_TRANSACTIONS)
    if roll < 0.6:
        return f"tx-{rng.getrandbits(48):012x}"
    if roll < 0.85:
        return rng.randint(-(2**31), 2**31)
    return round(rng.uniform(-1e6, 1e6), 3)


def _with_transaction(
    rng: random.Random, body: dict[str, Any], value: Any = MISSING
) -> dict[str, Any]:
    """``body`` with a ``transaction`` 60 % of the time (always when ``value`` is given): with
    the categories that never have one, about half of all requests do."""
    if value is MISSING:
        if rng.random() >= 0.6:
            return body
        value = _transaction(rng)
    if rng.random() < 0.5:
        return {"transaction": value, **body}
    return {**body, "transaction": value}


def _word(rng: random.Random, alphabet: str = string.ascii_lowercase + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(3, 12)))


def _fake_provider(rng: random.Random) -> str:
    """A provider id no daemon runs (never empty: an empty id means all, or the selected one)."""
    fixed = (
        "../../etc/passwd",
        "octopus_agile_export",
        "OCTOPUS_AGILE",
        "octopus_agile ",
        " octopus_agile",
        "octopus-agile",
        "octopus_agile/C",
        "octopus_agile\u0000",
        "*",
        "#",
        "+",
        "null",
        "\U0001f600",
        "a" * 300,
    )
    if rng.random() < 0.5:
        return rng.choice(fixed)
    return f"zz_{_word(rng)}"


def _fake_plugin_name(rng: random.Random) -> str:
    """A plugin file name that is refused, or names no bundled plugin."""
    fixed = (
        "../../etc/passwd",
        "x_provider.py",
        "/etc/passwd",
        "../octopus_agile_provider.py",
        "./octopus_agile_provider.py",
        "octopus_agile_provider.py/..",
        "octopus_agile_provider.py ",
        "octopus_agile_provider.py\n",
        "octopus_agile_provider.py\u0000",
        "Octopus_agile_provider.py",
        "octopus_agile_provider.pyc",
        "octopus_agile_provider",
        "_provider.py",
        "..",
        ".",
        "",
        "*_provider.py",
        "octopus_agile_provider.py;rm -rf",
    )
    if rng.random() < 0.6:
        return rng.choice(fixed)
    return f"zz_{_word(rng)}_provider.py"


_BAD_SETTING_KEYS: Final = (
    "mqtt.host",
    "mqtt.password",
    "storage.path",
    "http.token",
    "config_dir",
    "energy",
    "energy.providers",
    "energy.providers.",
    "energy.providers.octopus_agile.",
    "energy.providers.octopus_agile.region.extra",
    "energy.providers.octopus-agile.region",
    "energy.providers.OCTOPUS_AGILE.region",
    "Energy.provider_id",
    "energy.provider_id ",
    "energy..provider_id",
    "energy.provider_id.x",
    "../../etc/passwd",
    "",
    " ",
)


def _fake_setting(rng: random.Random) -> tuple[str, Any]:
    """A settings key (and value) that cannot be set: refused by shape, or a provider with no
    plugin (a non-null value that is not ``enabled`` or ``plugin``, so the provider would run)."""
    roll = rng.random()
    if roll < 0.4:
        return rng.choice(_BAD_SETTING_KEYS), rng.choice(("C", 1, None, True, [], {}))
    if roll < 0.55:
        return f"zz.{_word(rng)}", "C"
    if roll < 0.7:
        return "energy.provider_id", rng.choice((f"zz_{_word(rng)}", "", "OCTOPUS", 5, None, []))
    if roll < 0.85:
        return f"energy.providers.zz_{_word(rng)}", {"region": "C"}
    name = rng.choice(("region", "base_url", "tariff_code", "product_code", _word(rng)))
    return f"energy.providers.zz_{_word(rng)}.{name}", rng.choice(("C", "J", "x", 1))


def _bogus_args(rng: random.Random, command: str) -> dict[str, Any]:
    """Arguments that are wrong for ``command`` by themselves (unknown or fake)."""
    if command in ("refresh", "prices"):
        return {"provider": _fake_provider(rng)}
    if command == "cheapest":
        return {"minutes": 60, "provider": _fake_provider(rng)}
    if command == "providers/update":
        return {"name": _fake_plugin_name(rng)}
    if command == "settings/set":
        key, value = _fake_setting(rng)
        return {"key": key, "value": value}
    if command == "health":
        return {"probe": "maybe"}
    return {f"zz_{_word(rng)}": 1}


def _arg_names(command: str) -> tuple[str, ...]:
    return {
        "refresh": ("provider",),
        "providers/update": ("name",),
        "prices": ("provider", "start", "end", "hours"),
        "cheapest": ("provider", "minutes", "earliest", "latest", "contiguous", "mode"),
        "settings/set": ("key", "value", "values"),
        "health": ("probe",),
    }.get(command, ("x",))


# -- the categories ---------------------------------------------------------------------------

_JSONISH: Final = '{}[]":,0123456789.eE+-tfnaulrs \\'


def _random_bytes(rng: random.Random, command: str) -> bytes:
    for _ in range(20):
        if rng.random() < 0.5:
            data = rng.randbytes(rng.randint(1, 2048))
        else:
            data = "".join(rng.choice(_JSONISH) for _ in range(rng.randint(1, 512))).encode()
        if not expect(command, data).parsed:
            return data
    return b"\xff" + data


_BAD_UTF8: Final = (
    b"\xff",
    b"\xfe",
    b"\x80",
    b"\xbf",
    b"\xc0\xaf",  # overlong "/"
    b"\xe0\x80\xaf",  # overlong "/", three bytes
    b"\xc3\x28",  # a lead byte without its continuation
    b"\xe2\x82",  # truncated euro sign
    b"\xf0\x9f\x98",  # truncated emoji
    b"\xed\xa0\x80",  # U+D800 encoded as if it were a character (CESU-8)
    b"\xed\xbf\xbf",  # U+DFFF likewise
    b"\xf4\x90\x80\x80",  # beyond U+10FFFF
    b"\xf8\x88\x80\x80\x80",  # five-byte form
)


def _invalid_utf8(rng: random.Random, command: str) -> bytes:
    roll = rng.random()
    if roll < 0.1:
        body = _with_transaction(rng, {_arg_names(command)[0]: "caf\u00e9"})
        # é as one byte; a transaction beyond Latin-1 becomes "?"
        return json.dumps(body, ensure_ascii=False).encode("latin-1", errors="replace")
    if roll < 0.15:
        return b"\xef\xbb\xbf" + _encode(_with_transaction(rng, _bogus_args(rng, command)))  # BOM
    bad = rng.choice(_BAD_UTF8)
    text = _encode(_with_transaction(rng, {**_bogus_args(rng, command), "zz_bad": "@"}))
    where = rng.random()
    if where < 0.6:  # inside a string value
        return text.replace(b'"@"', b'"' + bad + b'"')
    if where < 0.8:  # inside a key
        return text.replace(b'"zz_bad"', b'"zz' + bad + b'"')
    return bad + text if where < 0.9 else text + bad  # around the object


_LONE: Final = (
    "\ud800",
    "\udfff",
    "\ud83d",
    "\udc00",
    "\ude00\ud83d",  # a pair the wrong way round
    "\ud800\ud800",
    "a\udbffz",
    "\U0001f600\ud800",  # a valid pair, then a lone one
)


def _lone_surrogate(rng: random.Random, command: str) -> bytes:
    lone = rng.choice(_LONE)
    bogus = _bogus_args(rng, command)
    arg = _arg_names(command)[0]
    shapes: list[Callable[[], Any]] = [
        lambda: _with_transaction(rng, bogus, lone),
        lambda: _with_transaction(rng, {**bogus, lone: 1}),
        lambda: _with_transaction(rng, {arg: lone}),
        lambda: _with_transaction(rng, {arg: {"a": [1, {"b": lone}]}}),
        lambda: [lone],
        lambda: lone,
    ]
    if command == "settings/set":
        shapes += [
            lambda: _with_transaction(rng, {"key": lone, "value": 1}),
            lambda: _with_transaction(rng, {"key": "\ud83d", "value": 1}),
            lambda: _with_transaction(
                rng, {"values": {f"energy.providers.octopus_agile.{lone}": 1}}
            ),
            lambda: _with_transaction(rng, {"values": {"energy.provider_id": [lone]}}),
            lambda: _with_transaction(
                rng, {"key": f"energy.providers.{lone}.region", "value": "C"}
            ),
        ]
    if command == "providers/update":
        shapes.append(lambda: _with_transaction(rng, {"name": f"{lone}_provider.py"}))
    text = _json(rng.choice(shapes)())
    if rng.random() < 0.3:  # JSON allows upper-case hex digits in escapes
        text = re.sub(r"\\u(d[89a-f][0-9a-f]{2})", lambda m: "\\u" + m[1].upper(), text)
    return text.encode("ascii")


_NON_OBJECTS: Final = (
    "[]",
    "[{}]",
    '[{"transaction": 1}]',
    "[[]]",
    "[1, 2, 3]",
    '""',
    '"health"',
    '"{\\"transaction\\": 1}"',
    "0",
    "-1",
    "3.14",
    "1e5",
    "null",
    "true",
    "false",
    " \n [] \t ",
)


def _non_object(rng: random.Random, command: str) -> bytes:
    roll = rng.random()
    if roll < 0.7:
        return rng.choice(_NON_OBJECTS).encode()
    if roll < 0.8:
        return str(rng.randint(-(10**12), 10**12)).encode()
    if roll < 0.9:
        return json.dumps(_word(rng)).encode()
    return _encode([_with_transaction(rng, _bogus_args(rng, command))])


def _nested(depth: int, leaf: Any) -> Any:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"a": value}
    return value


def _deep_nesting(rng: random.Random, command: str) -> bytes:
    depth = rng.choice((10_000, 20_000, 30_000))  # balanced, 30 000 is 60 000 bytes
    roll = rng.random()
    if roll < 0.25:
        return b"[" * depth
    if roll < 0.45:
        return b"[" * depth + b"]" * depth
    if roll < 0.6:
        depth = 10_000  # 60 000 bytes: under the size limit
        return b'{"a":' * depth + b"1" + b"}" * depth
    if roll < 0.75:
        head = _encode(_with_transaction(rng, {"zz": 0}))[:-1]
        return head + b', "' + _arg_names(command)[0].encode() + b'": ' + b"[" * 10_000 + b"}"
    if command not in COMMANDS:  # a parsable value might be right for a command unknown here
        return b"[" * depth
    # parsable (far from any recursion limit), and wrong for the command
    arg = _arg_names(command)[0] if command != "settings/set" else "value"
    body = {arg: _nested(rng.randint(20, 100), 1)}
    if command == "settings/set":
        body = {"key": rng.choice(_BAD_SETTING_KEYS), **body}
    elif command == "cheapest":
        body["minutes"] = 60
    return _encode(_with_transaction(rng, body))


def _oversize(rng: random.Random, command: str) -> bytes:
    size = rng.choice(
        (
            MAX_REQUEST_BYTES + 1,
            MAX_CORPUS_BYTES,
            rng.randint(MAX_REQUEST_BYTES + 1, MAX_CORPUS_BYTES),
        )
    )
    roll = rng.random()
    if roll < 0.5:
        body = _with_transaction(rng, {**_bogus_args(rng, command), "zz_pad": ""})
        text = _encode(body)
        return text.replace(b'"zz_pad": ""', b'"zz_pad": "' + b"x" * (size - len(text)) + b'"')
    if roll < 0.7:
        return rng.randbytes(size)
    if roll < 0.85:
        return b"{}" + b" " * (size - 2)
    return b"[" * size


_BAD_NUMBERS: Final = (
    "1e400",
    "-1e400",
    "1E+400",
    "1e309",
    "0.1e99999",
    "1" + "0" * 310 + ".0",  # 1e310 spelt out
    "1e308*10",
    "NaN",
    "-NaN",
    "Infinity",
    "-Infinity",
    "1" + "0" * 5000,  # 10**5000, beyond Python's 4300-digit int limit
    "-1" + "0" * 5000,
)


def _bad_number(rng: random.Random, command: str) -> bytes:
    number = _Raw(rng.choice(_BAD_NUMBERS))
    roll = rng.random()
    if roll < 0.4:
        body = _with_transaction(
            rng, {} if rng.random() < 0.5 else _bogus_args(rng, command), number
        )
    elif command == "prices":
        body = _with_transaction(rng, {"hours": number})
    elif command == "cheapest":
        body = _with_transaction(rng, {rng.choice(("minutes", "contiguous")): number})
    elif command == "settings/set":
        key = rng.choice(("energy.provider_id", "energy.providers.octopus_agile.region"))
        shape = {"key": key, "value": number} if rng.random() < 0.5 else {"values": {key: number}}
        body = _with_transaction(rng, shape)
    else:
        body = _with_transaction(rng, {_arg_names(command)[0]: number})
    return _json(body).encode("ascii")


_NOT_STRINGS: Final[tuple[Any, ...]] = (
    0,
    1,
    -1,
    1.5,
    True,
    False,
    [],
    ["octopus_agile"],
    {},
    {"id": "x"},
)
_NOT_BOOLS: Final[tuple[Any, ...]] = (2, -1, 0.5, "maybe", "", "truthy", [], {}, None, [True])
_NOT_DATETIMES: Final[tuple[Any, ...]] = (
    "not a date",
    "2024-01-01T00:00:00",  # naive
    "2024-13-01T00:00:00Z",
    "2024-01-01T25:00:00Z",
    "2024-01-01T00:00:00+99:00",
    "",
    [],
    {},
    True,
)
_NOT_HOURS: Final[tuple[Any, ...]] = (0, -1, 745, 10**6, "many", "", [], {}, "nan", "inf", "-inf")
_NOT_MINUTES: Final[tuple[Any, ...]] = (0, -30, 1441, 10**9, 60.5, "abc", "", [], {}, None)
_NOT_HHMM: Final[tuple[Any, ...]] = (
    "25:00",
    "24:00",
    "7:00",
    "00:60",
    "noon",
    "",
    "00:00:00",
    {},
    [],
)


def _wrong_type(rng: random.Random, command: str) -> dict[str, Any]:
    match command:
        case "refresh":
            return {"provider": rng.choice(_NOT_STRINGS)}
        case "providers/update":
            return rng.choice(({}, {"name": None}, {"name": rng.choice(_NOT_STRINGS)}))
        case "prices":
            return rng.choice(
                (
                    {"provider": rng.choice(_NOT_STRINGS)},
                    {"start": rng.choice(_NOT_DATETIMES)},
                    {"end": rng.choice(_NOT_DATETIMES)},
                    {"hours": rng.choice(_NOT_HOURS)},
                    {"end": "2030-01-01T00:00:00Z", "hours": 1},
                )
            )
        case "cheapest":
            return rng.choice(
                (
                    {},
                    {"minutes": rng.choice(_NOT_MINUTES)},
                    {"minutes": 60, "earliest": rng.choice(_NOT_HHMM)},
                    {"minutes": 60, "latest": rng.choice(_NOT_DATETIMES)},
                    {"minutes": 60, "contiguous": rng.choice(_NOT_BOOLS)},
                    {"minutes": 60, "mode": rng.choice(("cheap", "CHEAPEST", "", 1, None))},
                    {"minutes": 60, "earliest": "00:00", "latest": "2030-01-01T00:00:00Z"},
                    {"minutes": 60, "provider": rng.choice(_NOT_STRINGS)},
                )
            )
        case "settings/set":
            return rng.choice(
                (
                    {},
                    {"value": 1},
                    {"key": rng.choice(_NOT_STRINGS), "value": 1},
                    {"values": rng.choice(("x", 1, [], [["energy.provider_id", "x"]], True))},
                    {"key": "energy.provider_id", "values": {"energy.provider_id": "zz"}},
                    {"key": None, "value": 1},
                )
            )
        case "health":
            return {"probe": rng.choice(_NOT_BOOLS)}
        case _:  # no arguments at all: any is wrong
            return {rng.choice(("provider", "name", "hours", "probe")): rng.choice(_NOT_STRINGS)}


_UNKNOWN_KEYS: Final = (
    "Provider",
    "provider ",
    "providers",
    "Transaction",
    "transaction ",
    "transaction_id",
    "__proto__",
    "constructor",
    "",
    " ",
    "\u00e9",
    "\U0001f600",
    "a.b",
    "$where",
    "null",
)


def _harmless_args(rng: random.Random, command: str) -> dict[str, Any]:
    """Arguments that would be fine for a read-only command, and bogus for one that acts."""
    match command:
        case "prices":
            return {"hours": 1}
        case "cheapest":
            return {"minutes": 60}
        case "health":
            return {"probe": False}
        case "refresh" | "providers/update" | "settings/set":
            return _bogus_args(rng, command)
        case _:
            return {}


def _unknown_key(rng: random.Random, command: str) -> dict[str, Any]:
    key = rng.choice(_UNKNOWN_KEYS) if rng.random() < 0.7 else f"zz_{_word(rng)}"
    return {**_harmless_args(rng, command), key: rng.choice(("x", 1, None, True, [], {}))}


def _unknown_command_body(rng: random.Random) -> Any:
    return rng.choice(
        (
            {},
            {"hours": 1},
            {"minutes": 60},
            {"provider": "octopus_agile"},
            {"probe": True},
            {"name": "octopus_agile_provider.py"},
            {f"zz_{_word(rng)}": _word(rng)},
        )
    )


def _fake_name(rng: random.Random, command: str) -> dict[str, Any]:
    match command:
        case "refresh" | "prices":
            return {"provider": _fake_provider(rng)}
        case "cheapest":
            return {"minutes": 60, "provider": _fake_provider(rng)}
        case "providers/update":
            if rng.random() < 0.15:  # longer than a file name may be, and well-formed
                return {"name": "a" * 251 + "_provider.py"}
            return {"name": _fake_plugin_name(rng)}
        case "settings/set":
            if rng.random() < 0.5:
                key, value = _fake_setting(rng)
                return {"key": key, "value": value}
            changes = dict(_fake_setting(rng) for _ in range(rng.randint(1, 3)))
            return {"values": changes}
        case "health":
            return {"probe": _fake_provider(rng)}
        case _:
            return rng.choice(({"name": _fake_plugin_name(rng)}, {"provider": _fake_provider(rng)}))


_FAR_FUTURE: Final = "9999-12-31T23:00:00Z"
_FAR_PAST: Final = "0001-01-01T00:00:00+14:00"  # before year 1 in UTC


def _edge_value(rng: random.Random, command: str) -> dict[str, Any]:
    match command:
        case "prices":
            return rng.choice(
                (
                    {"start": _FAR_FUTURE},
                    {"start": _FAR_FUTURE, "hours": 1},
                    {"start": _FAR_PAST},
                    {"start": "2024-01-01T00:00:00Z", "end": "9999-12-31T23:59:59-23:59"},
                    {"start": "2024-01-01T00:00:00Z", "end": "2024-03-01T00:00:00Z"},
                    {"start": "2024-01-02T00:00:00Z", "end": "2024-01-01T00:00:00Z"},
                    {"start": "2024-01-01T00:00:00Z", "end": "2024-01-01T00:00:00Z"},
                    {"start": "2024-01-01T00:00:00Z", "hours": 1e-300},
                )
            )
        case "cheapest":
            return {"minutes": 60} | rng.choice(
                (
                    {"earliest": _FAR_FUTURE},
                    {"latest": _FAR_PAST},
                    {"earliest": _FAR_PAST, "latest": "2024-01-01T00:00:00Z"},
                    {"earliest": "2024-01-02T00:00:00Z", "latest": "2024-01-01T00:00:00Z"},
                    {"earliest": "2024-01-01T00:00:00Z", "latest": "2024-03-01T00:00:00Z"},
                )
            )
        case "providers/update":
            return {"name": "a" * rng.choice((251, 300, 4000)) + "_provider.py"}
        case "settings/set":
            region = {"key": "energy.providers.octopus_agile.region"}
            return rng.choice(
                (
                    {"values": {}},
                    region | {"value": rng.choice(("Z", "I", "O", "CC", "", 5, [], {}))},
                    {"values": {"energy.providers.octopus_agile.region": "Z"}},
                    {"key": "energy.providers." + "z" * 5000 + ".region", "value": "C"},
                )
            )
        case _:
            return _fake_name(rng, command)


def _bad_transaction(rng: random.Random, command: str) -> dict[str, Any]:
    value = rng.choice(([], [1], ["tx"], {}, {"id": 1}, [{"transaction": 1}], [None]))
    return _with_transaction(rng, _harmless_args(rng, command), value)


_OBJECT_CATEGORIES: Final[dict[str, Callable[[random.Random, str], dict[str, Any]]]] = {
    "wrong_type": _wrong_type,
    "unknown_key": _unknown_key,
    "fake_name": _fake_name,
    "edge_value": _edge_value,
}
_BYTES_CATEGORIES: Final[dict[str, Callable[[random.Random, str], bytes]]] = {
    "random_bytes": _random_bytes,
    "invalid_utf8": _invalid_utf8,
    "lone_surrogate": _lone_surrogate,
    "non_object": _non_object,
    "deep_nesting": _deep_nesting,
    "oversize": _oversize,
    "bad_number": _bad_number,
}


def _one(rng: random.Random, category: str, command: str) -> bytes:
    if category == "bad_transaction":
        return _encode(_bad_transaction(rng, command))
    if category in _BYTES_CATEGORIES:
        return _BYTES_CATEGORIES[category](rng, command)
    return _encode(_with_transaction(rng, _OBJECT_CATEGORIES[category](rng, command)))


#: Requests that stopped energyd or got ``internal_error`` once: the first visits of their
#: category and command send them as they were found (within the first 130 requests).
_KNOWN: Final[dict[tuple[str, str], tuple[bytes, ...]]] = {
    ("bad_number", "health"): (b'{"transaction": 1e400}',),
    ("lone_surrogate", "health"): (b'{"transaction": "\\ud800"}',),
    ("lone_surrogate", "settings/set"): (
        b'{"key": "\\ud83d", "value": 1}',
        b'{"values": {"energy.providers.octopus_agile.\\ud800": 1}}',
    ),
    ("edge_value", "providers/update"): (b'{"name": "' + b"a" * 251 + b'_provider.py"}',),
    ("edge_value", "prices"): (b'{"start": "9999-12-31T23:00:00Z"}',),
    ("edge_value", "cheapest"): (b'{"minutes": 60, "latest": "0001-01-01T00:00:00+14:00"}',),
}


def cases(seed: int, count: int, commands: Sequence[str] = COMMANDS) -> list[Case]:
    """``count`` invalid requests, the categories in turn, spread over ``commands``.

    ``commands`` are the daemon's command names; a name this module has no argument model
    for only gets requests refused whatever the command (non-scalar transactions, bad bytes).
    """
    if not commands:
        raise ValueError("no commands to fuzz")
    rng = random.Random(seed)
    known = set(commands)
    unknown = [name for name in UNKNOWN_COMMANDS if name not in known]
    result: list[Case] = []
    visits: Counter[tuple[str, str]] = Counter()
    for index in range(count):
        category = CATEGORIES[index % len(CATEGORIES)]
        command = commands[(index // len(CATEGORIES)) % len(commands)]
        if category == "unknown_command":
            command = rng.choice(unknown)
            body = _unknown_command_body(rng)
            payload = b"" if rng.random() < 0.05 else _encode(_with_transaction(rng, body))
        else:
            found = _KNOWN.get((category, command), ())
            visit = visits[category, command]
            visits[category, command] += 1
            if visit < len(found):
                payload = found[visit]
            else:
                if category in _ANY_TOPIC and rng.random() < 0.15:
                    command = rng.choice(unknown)
                elif command not in COMMANDS and category not in _ANY_TOPIC:
                    category = "bad_transaction"
                payload = _one(rng, category, command)
        result.append(Case(category, command, payload))
    return result


def corpus(seed: int, count: int, commands: Sequence[str] = COMMANDS) -> list[tuple[str, bytes]]:
    """``count`` invalid requests as ``(command, payload)``, deterministic for ``seed``."""
    return [(case.command, case.payload) for case in cases(seed, count, commands)]
