"""The fuzz corpus generator: deterministic, every category, bounded, invalid by construction."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from pydantic import BaseModel, ValidationError

from energyd.core.selection import check_setting_key
from energyd.exceptions import ConfigError
from energyd.mqtt.handlers import (
    CheapestArgs,
    HealthArgs,
    NoArgs,
    PricesArgs,
    RefreshArgs,
    SettingsSetArgs,
    UpdateArgs,
)
from tests.faults.fuzz_corpus import (
    CATEGORIES,
    COMMANDS,
    DOCUMENTED_CODES,
    MAX_CORPUS_BYTES,
    MAX_REQUEST_BYTES,
    MISSING,
    UNKNOWN_COMMANDS,
    cases,
    corpus,
    expect,
)

SEED = 7
COUNT = 1500

MODELS: dict[str, type[BaseModel]] = {
    "refresh": RefreshArgs,
    "providers/status": NoArgs,
    "providers/update": UpdateArgs,
    "providers/update-all": NoArgs,
    "providers/reload": NoArgs,
    "prices": PricesArgs,
    "cheapest": CheapestArgs,
    "settings/get": NoArgs,
    "settings/set": SettingsSetArgs,
    "health": HealthArgs,
}


@pytest.fixture(scope="module")
def ci_corpus() -> list[tuple[str, str, bytes]]:
    return [(c.category, c.command, c.payload) for c in cases(SEED, COUNT)]


class TestDeterminism:
    def test_same_seed_same_requests(self) -> None:
        """A seed gives the same requests, byte for byte."""
        assert corpus(SEED, 400) == corpus(SEED, 400)

    def test_other_seed_other_requests(self) -> None:
        """Another seed gives other requests."""
        assert corpus(SEED, 400) != corpus(SEED + 1, 400)

    def test_a_longer_run_starts_with_the_shorter_one(self) -> None:
        """count only cuts the sequence: the first requests do not depend on it."""
        assert corpus(SEED, 130) == corpus(SEED, 1300)[:130]

    def test_corpus_is_the_cases_without_categories(self) -> None:
        """corpus() is (command, payload) of cases()."""
        assert [(c.command, c.payload) for c in cases(SEED, 50)] == corpus(SEED, 50)


class TestCoverage:
    def test_categories_in_turn(self, ci_corpus: list[tuple[str, str, bytes]]) -> None:
        """Every category, in equal shares (the cycle)."""
        counts = Counter(category for category, _, _ in ci_corpus)
        assert set(CATEGORIES) == set(counts)
        assert 1 >= max(counts.values()) - min(counts.values())

    def test_every_command_and_unknown_ones(self, ci_corpus: list[tuple[str, str, bytes]]) -> None:
        """Every command gets requests, and so do topics no command has."""
        commands = Counter(command for _, command, _ in ci_corpus)
        assert set(COMMANDS) <= set(commands)
        assert all(commands[name] >= 100 for name in COMMANDS), commands
        assert len(set(UNKNOWN_COMMANDS) & set(commands)) >= 10

    def test_about_half_carry_a_transaction(self, ci_corpus: list[tuple[str, str, bytes]]) -> None:
        """Around half the requests hold a transaction key."""
        share = sum(b'"transaction"' in payload for _, _, payload in ci_corpus) / len(ci_corpus)
        assert 0.4 <= share <= 0.6, share

    def test_the_known_crashers_are_in(self, ci_corpus: list[tuple[str, str, bytes]]) -> None:
        """The requests that stopped energyd or got internal_error are in, as found."""
        requests = {(command, payload) for _, command, payload in ci_corpus[:130]}
        assert {
            ("health", b'{"transaction": 1e400}'),
            ("health", b'{"transaction": "\\ud800"}'),
            ("settings/set", b'{"key": "\\ud83d", "value": 1}'),
            ("prices", b'{"start": "9999-12-31T23:00:00Z"}'),
        } <= requests

    def test_sizes_are_bounded(self, ci_corpus: list[tuple[str, str, bytes]]) -> None:
        """No request is over 70 KiB; the oversize ones are over 64 KiB, the others not much."""
        sizes = {(category, len(payload)) for category, _, payload in ci_corpus}
        assert MAX_CORPUS_BYTES >= max(size for _, size in sizes)
        assert all(size > MAX_REQUEST_BYTES for category, size in sizes if category == "oversize")
        assert 15 * 1024 * 1024 > sum(len(payload) for _, _, payload in ci_corpus)

    def test_every_expected_code_is_a_documented_error(
        self, ci_corpus: list[tuple[str, str, bytes]]
    ) -> None:
        """Every request expects documented error codes only, never internal_error."""
        for category, command, payload in ci_corpus:
            codes = expect(command, payload).codes
            assert codes, (category, command, payload[:80])
            assert codes <= DOCUMENTED_CODES - {"internal_error"}, (category, codes)


class TestInvalidByConstruction:
    def test_no_blank_request_to_a_command(self, ci_corpus: list[tuple[str, str, bytes]]) -> None:
        """A blank payload means {}: only unknown commands get one."""
        blank = {command for _, command, payload in ci_corpus if not payload.strip()}
        assert not blank & set(COMMANDS)

    @pytest.mark.parametrize("category", ["wrong_type", "unknown_key"])
    def test_argument_models_refuse(
        self, category: str, ci_corpus: list[tuple[str, str, bytes]]
    ) -> None:
        """What should fail the argument model does fail energyd's own model."""
        checked = 0
        for kind, command, payload in ci_corpus:
            if kind != category or command not in MODELS:
                continue
            body = json.loads(payload)
            transaction = body.pop("transaction", None)
            if isinstance(transaction, list | dict):
                continue  # refused before any model
            with pytest.raises(ValidationError):
                MODELS[command].model_validate(body)
            checked += 1
        assert checked >= 50

    def test_bad_transactions_are_arrays_or_objects(
        self, ci_corpus: list[tuple[str, str, bytes]]
    ) -> None:
        """bad_transaction requests hold a transaction no reply could echo as a scalar."""
        for category, _, payload in ci_corpus:
            if category == "bad_transaction":
                assert isinstance(json.loads(payload)["transaction"], list | dict), payload

    def test_settings_changes_name_no_real_setting(
        self, ci_corpus: list[tuple[str, str, bytes]]
    ) -> None:
        """settings/set never names a real setting with a value that could be right."""
        for category, command, payload in ci_corpus:
            if command != "settings/set" or category not in ("fake_name", "wrong_type"):
                continue
            body = json.loads(payload)
            values = body.get("values")
            changes = dict(values) if isinstance(values, dict) else {}
            if isinstance(body.get("key"), str):
                changes[body["key"]] = body.get("value")
            for key, value in changes.items():
                try:
                    check_setting_key(key)
                except ConfigError:
                    continue  # refused by its shape
                if key == "energy.provider_id":
                    assert "octopus_agile" != value, payload
                else:  # a provider no plugin provides
                    assert key.startswith("energy.providers.zz_"), payload


class TestExpect:
    @pytest.mark.parametrize(
        ("payload", "code"),
        [
            (b"x" * (MAX_REQUEST_BYTES + 1), "payload_too_large"),
            (b'{"a": "\xff"}', "invalid_encoding"),
            (b'{"transaction": "\\ud800"}', "invalid_encoding"),
            (b'{"key": "\\ud83d", "value": 1}', "invalid_encoding"),
            (b'["\\udfff"]', "invalid_encoding"),
            (b'{"transaction": 1e400}', "invalid_json"),
            (b'{"transaction": NaN}', "invalid_json"),
            (b'{"transaction": ' + b"1" + b"0" * 5000 + b"}", "invalid_json"),
            (b"[" * 10_000, "invalid_json"),
            (b"\xef\xbb\xbf{}", "invalid_json"),
            (b"[]", "invalid_payload"),
            (b'{"transaction": [1]}', "invalid_argument"),
        ],
    )
    def test_refused_before_the_command(self, payload: bytes, code: str) -> None:
        """Size, encoding, JSON, object and transaction come first, on any topic."""
        for command in ("health", "does-not-exist"):
            assert (frozenset({code}), False) == (
                expect(command, payload).codes,
                expect(command, payload).parsed,
            )

    def test_unknown_command_echoes(self) -> None:
        """A readable object on an unknown topic: unknown_command, transaction echoed."""
        expectation = expect("nope", b'{"transaction": "\\ud83d\\ude00", "hours": 1}')
        assert (frozenset({"unknown_command"}), True, "\U0001f600") == (
            expectation.codes,
            expectation.parsed,
            expectation.transaction,
        )

    def test_blank_is_an_empty_object(self) -> None:
        """A blank payload is {} without a transaction."""
        expectation = expect("nope", b" \n")
        assert (True, MISSING) == (expectation.parsed, expectation.transaction)

    def test_argument_errors_per_command(self) -> None:
        """A readable object on a command: the codes that command's arguments can give."""
        assert frozenset({"invalid_argument"}) == expect("health", b'{"probe": 2}').codes
        assert "invalid_name" in expect("providers/update", b'{"name": "../x"}').codes
