"""The one error table: a status for every code; each exception has one code on every surface."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import energyd
from energyd.api.errors import (
    HTTP_STATUS,
    ErrorCode,
    code_of,
    http_status,
    to_command_error,
)
from energyd.exceptions import (
    CommandError,
    ConfigError,
    EnergydError,
    PluginLoadError,
    PluginNameError,
    ProviderConfigError,
    ProviderFetchError,
    StoreError,
    UnknownProviderError,
)

PACKAGE = Path(energyd.__file__).parent


class TestTable:
    def test_every_code_has_a_status(self) -> None:
        """The status table has exactly the codes of ErrorCode."""
        assert set(ErrorCode) == set(HTTP_STATUS)

    def test_statuses_are_errors(self) -> None:
        """Every status is a 4xx or 5xx."""
        assert all(400 <= status < 600 for status in HTTP_STATUS.values())

    def test_codes_used_in_the_package_are_in_the_table(self) -> None:
        """Every code a CommandError is raised with in energyd/ is an ErrorCode."""
        used: set[str] = set()
        for path in PACKAGE.rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            used |= set(re.findall(r'CommandError\(\s*"([a-z_]+)"', text))
            members = re.findall(r"ErrorCode\.([A-Z_]+)", text)
            used |= {ErrorCode[name].value for name in members}
        assert set() == used - {code.value for code in ErrorCode}
        assert used  # the scan found the codes at all

    @pytest.mark.parametrize(
        ("code", "status"),
        [
            ("invalid_argument", 400),
            ("unauthorized", 401),
            ("forbidden", 403),
            ("unknown_provider", 404),
            ("not_available", 404),
            ("payload_too_large", 413),
            ("invalid_setting", 422),
            ("invalid_config", 422),
            ("failed", 500),
            ("store_unavailable", 503),
        ],
    )
    def test_statuses_kept(self, code: str, status: int) -> None:
        """The statuses HTTP has always answered."""
        assert status == http_status(code)

    def test_a_code_outside_the_table_is_400(self) -> None:
        """A handler's own code (not in the table) stays a client error, as before."""
        assert 400 == http_status("busy")


class TestExceptions:
    @pytest.mark.parametrize(
        ("exc", "code"),
        [
            (PluginNameError("bad name"), "invalid_name"),
            (UnknownProviderError("no such provider"), "unknown_provider"),
            (ProviderConfigError("bad region", {"region": "unknown"}), "invalid_config"),
            (ConfigError("bad key", {"mqtt.host": "not at run time"}), "invalid_setting"),
            (StoreError("database is locked"), "store_unavailable"),
            (ProviderFetchError("hung up"), "failed"),
            (PluginLoadError("import failed"), "failed"),
            (CommandError("busy", "later"), "busy"),
        ],
    )
    def test_code_of(self, exc: EnergydError, code: str) -> None:
        """Each error a client can act on has its code; the rest are failed."""
        assert code == code_of(exc)

    def test_store_error_is_store_unavailable(self) -> None:
        """A StoreError is store_unavailable (MQTT said failed before), 503 over HTTP."""
        error = to_command_error(StoreError("disk full"))
        assert ("store_unavailable", "disk full", None, 503) == (
            error.code,
            error.message,
            error.details,
            http_status(error.code),
        )

    def test_config_errors_carry_their_fields(self) -> None:
        """The per-field reasons of a config error are the details."""
        error = to_command_error(ProviderConfigError("bad", {"region": "unknown region"}))
        assert {"region": "unknown region"} == error.details

    def test_failed_names_the_type(self) -> None:
        """failed details name the error type."""
        error = to_command_error(ProviderFetchError("hung up"))
        assert ("failed", {"type": "ProviderFetchError"}) == (error.code, error.details)

    def test_command_error_passes_through(self) -> None:
        """A CommandError is already a reply."""
        exc = CommandError("invalid_argument", "no", {"x": "y"})
        assert exc is to_command_error(exc)
