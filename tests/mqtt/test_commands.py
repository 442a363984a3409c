"""Command request parsing, validation, routing and replies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import Field

from energyd.exceptions import (
    CommandError,
    ProviderConfigError,
    ProviderFetchError,
    StoreError,
    UnknownProviderError,
)
from energyd.mqtt.commands import (
    MAX_REQUEST_BYTES,
    NO_TRANSACTION,
    CommandArgs,
    CommandRouter,
    Reply,
    Request,
    parse_request,
)


class FetchArgs(CommandArgs):
    provider: str
    hours: int = Field(default=24, ge=1, le=48)


async def echo(args: dict[str, Any]) -> dict[str, Any]:
    return {"args": args}


async def fetch(args: FetchArgs) -> dict[str, Any]:
    return {"provider": args.provider, "hours": args.hours}


async def refuse(args: dict[str, Any]) -> None:
    raise CommandError("busy", "a fetch is already running", {"retry_in": 5})


async def provider_missing(args: dict[str, Any]) -> None:
    raise UnknownProviderError("no provider 'nope'")


async def bad_config(args: dict[str, Any]) -> None:
    raise ProviderConfigError("invalid config", {"region": "unknown region"})


async def fetch_failed(args: dict[str, Any]) -> None:
    raise ProviderFetchError("the provider hung up")


async def store_failed(args: dict[str, Any]) -> None:
    raise StoreError("database is locked")


async def crash(args: dict[str, Any]) -> None:
    raise RuntimeError("secret internals at 0xdeadbeef")


async def unserialisable(args: dict[str, Any]) -> object:
    return {"x": object()}


async def not_a_number(args: dict[str, Any]) -> object:
    return {"x": float("nan")}


@pytest.fixture
def router() -> CommandRouter:
    router = CommandRouter()
    router.add("echo", echo)
    router.add("fetch", fetch, FetchArgs)
    router.add("providers/status", echo)
    router.add("refuse", refuse)
    router.add("provider_missing", provider_missing)
    router.add("bad_config", bad_config)
    router.add("fetch_failed", fetch_failed)
    router.add("store_failed", store_failed)
    router.add("crash", crash)
    router.add("unserialisable", unserialisable)
    return router


async def answer(router: CommandRouter, command: str, payload: bytes) -> dict[str, Any]:
    reply = await router.dispatch(command, payload)
    decoded: dict[str, Any] = json.loads(reply.to_bytes())
    return decoded


def error_of(reply: dict[str, Any]) -> str:
    assert "error" == reply["status"]
    assert reply["data"] is None
    code: str = reply["error"]["code"]
    return code


class TestParseRequest:
    def test_object(self) -> None:
        """A JSON object becomes the arguments."""
        assert Request({"a": 1}) == parse_request(b'{"a": 1}')

    @pytest.mark.parametrize("payload", [b"", b"  \n"])
    def test_empty_is_empty_object(self, payload: bytes) -> None:
        """An empty payload means no arguments."""
        assert Request({}) == parse_request(payload)

    @pytest.mark.parametrize("transaction", ["abc", 42, 1.5, True, None])
    def test_transaction_removed(self, transaction: object) -> None:
        """The transaction (any scalar, null included) is taken out of the arguments."""
        payload = json.dumps({"a": 1, "transaction": transaction}).encode()
        assert Request({"a": 1}, transaction) == parse_request(payload)

    def test_no_transaction(self) -> None:
        """Without a transaction key the request has none (not null)."""
        assert NO_TRANSACTION is parse_request(b"{}").transaction

    @pytest.mark.parametrize(
        ("payload", "code"),
        [
            (b"x" * (MAX_REQUEST_BYTES + 1), "payload_too_large"),
            (b"\xff\xfe{}", "invalid_encoding"),
            (b"{not json", "invalid_json"),
            (b'{"a": NaN}', "invalid_json"),
            (b"[" * 100_000 + b"]" * 100_000, "payload_too_large"),
            (b"[" * 50_000 + b"]" * 10_000, "invalid_json"),
            (b"[1, 2]", "invalid_payload"),
            (b'"text"', "invalid_payload"),
            (b"null", "invalid_payload"),
            (b'{"transaction": {"id": 1}}', "invalid_argument"),
            (b'{"transaction": 1e400}', "invalid_json"),
            (b'{"a": [-1e400]}', "invalid_json"),
            (b'{"transaction": "\\ud800"}', "invalid_encoding"),
            (b'{"key": "\\ud83d", "value": 1}', "invalid_encoding"),
            (b'{"values": {"energy.providers.octopus_agile.\\ud800": 1}}', "invalid_encoding"),
            (b'{"a": [{"b": ["x\\udfff"]}]}', "invalid_encoding"),
        ],
    )
    def test_errors(self, payload: bytes, code: str) -> None:
        """Each kind of bad payload has its own stable code."""
        with pytest.raises(CommandError) as caught:
            parse_request(payload)
        assert code == caught.value.code

    def test_surrogate_pair_is_fine(self) -> None:
        """A proper surrogate pair is one character, not an error."""
        assert {"a": "\U0001f600"} == parse_request(b'{"a": "\\ud83d\\ude00"}').args

    def test_large_numbers_that_fit(self) -> None:
        """Big but finite numbers (and long integers) are ordinary values."""
        assert {"a": 1.5e308, "b": 10**400} == parse_request(
            b'{"a": 1.5e308, "b": 1' + b"0" * 400 + b"}"
        ).args

    def test_limit_is_inclusive(self) -> None:
        """A payload of exactly the limit is still parsed."""
        payload = b'{"a":"' + b"x" * (MAX_REQUEST_BYTES - 8) + b'"}'
        assert MAX_REQUEST_BYTES == len(payload)
        assert {"a"} == set(parse_request(payload).args)


class TestReplyShape:
    def test_ok(self) -> None:
        """An ok reply has data, a null error and no transaction unless given."""
        expected = {"status": "ok", "data": {"x": 1}, "error": None}
        assert expected == Reply.ok({"x": 1}).to_dict()

    def test_error_with_transaction(self) -> None:
        """An error reply has a code, a message, details when given, and the transaction."""
        expected = {
            "status": "error",
            "data": None,
            "error": {"code": "busy", "message": "later", "details": {"n": 1}},
            "transaction": None,
        }
        assert expected == Reply.error("busy", "later", {"n": 1}, None).to_dict()

    def test_error_without_details(self) -> None:
        """Details are left out when there are none."""
        expected = {"code": "busy", "message": "later"}
        assert expected == Reply.error("busy", "later").to_dict()["error"]

    def test_bytes(self) -> None:
        """to_bytes is compact JSON."""
        assert (
            b'{"status":"ok","data":null,"error":null,"transaction":7}'
            == Reply.ok(None, 7).to_bytes()
        )


class TestDispatch:
    async def test_ok_with_dict_args(self, router: CommandRouter) -> None:
        """A handler without a model gets the arguments as a dict; the transaction is echoed."""
        reply = await answer(router, "echo", b'{"a": [1], "transaction": "t-1"}')
        expected = {"status": "ok", "data": {"args": {"a": [1]}}, "error": None}
        assert {**expected, "transaction": "t-1"} == reply

    async def test_command_with_slash(self, router: CommandRouter) -> None:
        """Commands may have several levels."""
        assert "ok" == (await answer(router, "providers/status", b""))["status"]

    async def test_model_args(self, router: CommandRouter) -> None:
        """A handler with a model gets a validated instance, defaults filled in."""
        reply = await answer(router, "fetch", b'{"provider": "octopus_agile"}')
        assert {"provider": "octopus_agile", "hours": 24} == reply["data"]

    async def test_invalid_arguments(self, router: CommandRouter) -> None:
        """Wrong types, out-of-range values, missing and unknown keys are reported per field."""
        reply = await answer(router, "fetch", b'{"hours": "many", "extra": 1, "transaction": 9}')
        assert "invalid_argument" == error_of(reply)
        assert {"hours", "provider", "extra"} == set(reply["error"]["details"])
        assert 9 == reply["transaction"]

    async def test_out_of_range(self, router: CommandRouter) -> None:
        """Field constraints of the model apply."""
        reply = await answer(router, "fetch", b'{"provider": "p", "hours": 100}')
        assert ["hours"] == list(reply["error"]["details"])

    async def test_unknown_command(self, router: CommandRouter) -> None:
        """An unknown command lists the known ones and echoes the transaction."""
        reply = await answer(router, "nope", b'{"transaction": "abc"}')
        assert "unknown_command" == error_of(reply)
        assert router.names() == reply["error"]["details"]["commands"]
        assert "abc" == reply["transaction"]

    @pytest.mark.parametrize(
        ("payload", "code"),
        [
            (b"x" * (MAX_REQUEST_BYTES + 1), "payload_too_large"),
            (b"\xc3\x28", "invalid_encoding"),
            (b"{", "invalid_json"),
            (b"[]", "invalid_payload"),
        ],
    )
    async def test_parse_errors(self, router: CommandRouter, payload: bytes, code: str) -> None:
        """Parse errors become error replies without a transaction."""
        reply = await answer(router, "echo", payload)
        assert code == error_of(reply)
        assert "transaction" not in reply

    async def test_command_error(self, router: CommandRouter) -> None:
        """A CommandError from the handler keeps its code, message and details."""
        reply = await answer(router, "refuse", b'{"transaction": 1}')
        expected = {
            "status": "error",
            "data": None,
            "error": {
                "code": "busy",
                "message": "a fetch is already running",
                "details": {"retry_in": 5},
            },
            "transaction": 1,
        }
        assert expected == reply

    async def test_energyd_error_is_failed(self, router: CommandRouter) -> None:
        """An energyd error without a code of its own becomes failed, with its type."""
        reply = await answer(router, "fetch_failed", b"")
        expected = {
            "code": "failed",
            "message": "the provider hung up",
            "details": {"type": "ProviderFetchError"},
        }
        assert expected == reply["error"]

    @pytest.mark.parametrize(
        ("command", "code"),
        [
            ("provider_missing", "unknown_provider"),
            ("bad_config", "invalid_config"),
            ("store_failed", "store_unavailable"),
        ],
    )
    async def test_the_error_table_gives_the_code(
        self, router: CommandRouter, command: str, code: str
    ) -> None:
        """Errors a client can act on get the code of the one error table (as over HTTP)."""
        assert code == error_of(await answer(router, command, b""))

    async def test_field_errors_in_details(self, router: CommandRouter) -> None:
        """Config errors carry their per-field reasons."""
        reply = await answer(router, "bad_config", b"")
        assert {"region": "unknown region"} == reply["error"]["details"]

    async def test_unexpected_error_is_generic(self, router: CommandRouter) -> None:
        """A bug becomes internal_error; nothing of the exception leaks into the reply."""
        reply = await answer(router, "crash", b'{"transaction": "t"}')
        assert "internal_error" == error_of(reply)
        assert "0xdeadbeef" not in json.dumps(reply)
        assert "t" == reply["transaction"]

    async def test_unserialisable_data(self, router: CommandRouter) -> None:
        """Data that is not JSON becomes internal_error instead of breaking the loop."""
        assert "internal_error" == error_of(await answer(router, "unserialisable", b""))


class TestAnswer:
    @pytest.mark.parametrize(
        ("payload", "code"),
        [
            (b'{"transaction": 1e400}', "invalid_json"),
            (b'{"transaction": "\\ud800"}', "invalid_encoding"),
        ],
    )
    async def test_unechoable_transaction(
        self, router: CommandRouter, payload: bytes, code: str
    ) -> None:
        """A transaction no reply could echo is refused with its own code, not a crash."""
        reply = json.loads(await router.answer("echo", payload))
        assert (code, False) == (error_of(reply), "transaction" in reply)

    async def test_reply_always_serialises(self, router: CommandRouter) -> None:
        """A handler whose data cannot be serialised still gives JSON bytes (internal_error)."""
        router.add("nan", not_a_number)
        reply = json.loads(await router.answer("nan", b'{"transaction": "t"}'))
        assert ("internal_error", "t") == (error_of(reply), reply["transaction"])


class TestRegistration:
    def test_names_sorted(self) -> None:
        """names() lists registered commands in order."""
        router = CommandRouter()
        router.add("b", echo)
        router.add("a/x", echo)
        assert ["a/x", "b"] == router.names()

    def test_duplicate_refused(self) -> None:
        """A command can be registered once."""
        router = CommandRouter()
        router.add("a", echo)
        with pytest.raises(ValueError, match="already registered"):
            router.add("a", echo)

    @pytest.mark.parametrize("name", ["", "a/", "/a", "a//b", "a/#", "+"])
    def test_bad_names(self, name: str) -> None:
        """Command names are '/'-separated non-empty levels without wildcards."""
        with pytest.raises(ValueError, match="command name"):
            CommandRouter().add(name, echo)
