"""The one error tree of energyd.

Foreign exceptions (aiohttp, sqlite3, aiomqtt, pydantic) are translated where they enter
(``raise ... from exc``) so the core only ever sees these::

    EnergydError
    ├── ConfigError                  invalid configuration (exit code 2 at start-up)
    ├── StoreError                   SQLite failed (disk full, corrupt file, locked)
    ├── ProviderError                anything about a price provider plugin
    │   ├── PluginLoadError          a *_provider.py failed to import / instantiate / describe
    │   ├── PluginNameError          a plugin file name that is not [a-z0-9_]+_provider.py
    │   ├── UnknownProviderError     no loaded plugin (or configured provider) with that id
    │   ├── ProviderConfigError      validate_config() rejected the config (field -> reason)
    │   ├── SlotValidationError      a plugin returned slots the daemon refuses to store
    │   └── ProviderFetchError       fetching prices failed
    │       ├── ProviderConnectionError  connection refused, DNS, timeout
    │       ├── ProviderServerError      HTTP 5xx (and other unexpected statuses)
    │       ├── ProviderRateLimitError   HTTP 429; ``retry_after`` in seconds when given
    │       │   └── RequestSpacingError  not sent: the plugin's own spacing (no retry waits)
    │       ├── ProviderNotFoundError    HTTP 404 (product or tariff unknown)
    │       ├── ProviderAuthError        HTTP 401 / 403 (missing, wrong or refused credentials)
    │       ├── ProviderDataError        malformed or non-JSON body
    │       └── ProviderEmptyError       a well-formed answer with no prices in it
    │           └── ProviderNotPublishedError  "not published yet": a waiting state, not a fault
    └── CommandError                 a request on the command topic that cannot be served;
                                     carries a stable ``code`` for the reply
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

__all__ = [
    "CommandError",
    "ConfigError",
    "EnergydError",
    "PluginLoadError",
    "PluginNameError",
    "ProviderAuthError",
    "ProviderConfigError",
    "ProviderConnectionError",
    "ProviderDataError",
    "ProviderEmptyError",
    "ProviderError",
    "ProviderFetchError",
    "ProviderNotFoundError",
    "ProviderNotPublishedError",
    "ProviderRateLimitError",
    "ProviderServerError",
    "RequestSpacingError",
    "SlotValidationError",
    "StoreError",
    "UnknownProviderError",
]


class EnergydError(Exception):
    """Base of every error energyd raises on purpose."""


class ConfigError(EnergydError):
    """The configuration is invalid; ``errors`` maps a dotted key to the reason."""

    def __init__(self, message: str, errors: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.errors: dict[str, str] = dict(errors or {})


class StoreError(EnergydError):
    """The SQLite store failed; nothing of the failed operation was written."""


class ProviderError(EnergydError):
    """Something about a price provider plugin went wrong."""


class PluginLoadError(ProviderError):
    """A plugin file could not be imported, instantiated or describe itself."""


class PluginNameError(ProviderError):
    """A plugin file name that is not a bare ``[a-z0-9_]+_provider.py``."""


class UnknownProviderError(ProviderError):
    """No loaded plugin or configured provider has this id."""


class ProviderConfigError(ProviderError):
    """``validate_config`` rejected a provider configuration."""

    def __init__(self, message: str, errors: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.errors: dict[str, str] = dict(errors or {})


class SlotValidationError(ProviderError):
    """A plugin returned price slots that fail validation; the whole fetch is refused."""


class ProviderFetchError(ProviderError):
    """Fetching prices from the provider failed; ``status`` is the HTTP status when one was seen."""

    def __init__(self, message: str = "", *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ProviderConnectionError(ProviderFetchError):
    """The provider could not be reached (connection refused, DNS, timeout)."""


class ProviderServerError(ProviderFetchError):
    """The provider answered with a server error or an unexpected status."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message, status=status)


class ProviderRateLimitError(ProviderFetchError):
    """The provider throttled us (HTTP 429); ``retry_after`` is in seconds when known."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


class RequestSpacingError(ProviderRateLimitError):
    """A request not sent because the plugin's request spacing (its source's rate limit)
    would have it wait too long; ``retry_after`` says when the next one may go. Never
    retried within the fetch: the scheduler asks again then."""


class ProviderNotFoundError(ProviderFetchError):
    """The provider does not know the product or tariff asked for (HTTP 404)."""


class ProviderAuthError(ProviderFetchError):
    """The provider refused our credentials or access (HTTP 401 / 403); not retried."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message, status=status)


class ProviderDataError(ProviderFetchError):
    """The provider answered with a body we cannot understand."""


class ProviderEmptyError(ProviderFetchError):
    """The provider answered well-formed but with no prices for the window."""


class ProviderNotPublishedError(ProviderEmptyError):
    """The source has not published these prices *yet* (before the day-ahead auction's
    results): the daemon shows a waiting state and asks again, it reports no fault.

    ``retry_at`` (aware UTC) is when the plugin or source expects them, when it knows.
    """

    def __init__(
        self, message: str = "", *, status: int | None = None, retry_at: datetime | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_at = retry_at


class CommandError(EnergydError):
    """A command request that cannot be served; ``code`` is stable for clients."""

    def __init__(self, code: str, message: str, details: object = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
