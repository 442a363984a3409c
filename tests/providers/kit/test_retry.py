"""Retries: backoff with full jitter, only for transient errors, under one budget per fetch."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable

import pytest

from energyd.exceptions import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderDataError,
    ProviderEmptyError,
    ProviderError,
    ProviderFetchError,
    ProviderNotFoundError,
    ProviderRateLimitError,
    ProviderServerError,
)
from energyd.providers.kit.config import ConfigFields
from energyd.providers.kit.retry import NO_RETRY, RETRY_FIELDS, Retrier, RetryPolicy, is_transient


class FakeClock:
    """A monotonic clock that only moves when the retrier sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def failing(*errors: ProviderError, result: str = "ok") -> Callable[[], Awaitable[str]]:
    """An operation that raises ``errors`` in turn, then returns ``result``."""
    pending = list(errors)

    async def operation() -> str:
        if pending:
            raise pending.pop(0)
        return result

    return operation


def retrier(policy: RetryPolicy, clock: FakeClock, seed: int = 7) -> Retrier:
    return Retrier(policy, rng=random.Random(seed), sleep=clock.sleep, clock=clock)


class TestTransient:
    @pytest.mark.parametrize(
        "error",
        [
            ProviderConnectionError("refused"),
            ProviderServerError("HTTP 503", 503),
            ProviderServerError("odd", None),
            ProviderRateLimitError("HTTP 429", 5),
            ProviderRateLimitError("HTTP 429"),
        ],
    )
    def test_connection_5xx_and_429_are_transient(self, error: ProviderError) -> None:
        """Worth another attempt."""
        assert is_transient(error)

    @pytest.mark.parametrize(
        "error",
        [
            ProviderAuthError("HTTP 401", 401),
            ProviderNotFoundError("HTTP 404"),
            ProviderFetchError("HTTP 400", status=400),
            ProviderDataError("not JSON"),
            ProviderEmptyError("not yet"),
            ProviderServerError("HTTP 304", 304),
        ],
    )
    def test_client_auth_and_data_errors_are_not(self, error: ProviderError) -> None:
        """Asking again would get the same answer."""
        assert not is_transient(error)

    def test_a_policy_can_add_statuses(self) -> None:
        """retry_statuses makes, say, a CDN's 403 transient for one market."""
        policy = RetryPolicy(retry_statuses=frozenset({403}))
        assert policy.is_transient(ProviderAuthError("HTTP 403", 403))
        assert not policy.is_transient(ProviderAuthError("HTTP 401", 401))


class TestBackoff:
    def test_delays_are_full_jitter_below_a_doubling_ceiling(self) -> None:
        """Each delay lies in [0, min(max_delay, base * 2^(n-1))]."""
        policy = RetryPolicy(attempts=10, base_delay=1.0, max_delay=5.0, budget_seconds=1000)
        rng = random.Random(1)
        delays = [policy.backoff(n, rng) for n in range(1, 8)]
        ceilings = [1, 2, 4, 5, 5, 5, 5]
        assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))

    def test_jitter_is_reproducible_with_a_seeded_random(self) -> None:
        """An injected Random gives the same delays each run."""
        policy = RetryPolicy(base_delay=2.0)
        assert policy.backoff(3, random.Random(42)) == policy.backoff(3, random.Random(42))

    @pytest.mark.parametrize(
        "options",
        [{"attempts": 0}, {"attempts": 1.5}, {"base_delay": -1}, {"budget_seconds": float("nan")}],
    )
    def test_nonsense_policies_are_refused(self, options: dict[str, float]) -> None:
        """Zero attempts, negative delays and NaN budgets are ValueErrors."""
        with pytest.raises(ValueError, match="must be a"):
            RetryPolicy(**options)  # type: ignore[arg-type]


class TestRetrier:
    async def test_transient_errors_are_retried_until_success(self) -> None:
        """Two 503s, then success: three attempts, two sleeps."""
        clock = FakeClock()
        run = retrier(RetryPolicy(attempts=4, base_delay=1.0), clock)
        errors = [ProviderServerError("HTTP 503", 503) for _ in range(2)]
        assert "ok" == await run.run(failing(*errors))
        assert 2 == len(clock.sleeps)

    async def test_attempts_bound_each_request(self) -> None:
        """After ``attempts`` failures the last error is raised."""
        clock = FakeClock()
        run = retrier(RetryPolicy(attempts=3, base_delay=0.1), clock)
        errors = [ProviderConnectionError(f"refused {n}") for n in range(5)]
        with pytest.raises(ProviderConnectionError, match="refused 2"):
            await run.run(failing(*errors))
        assert 2 == len(clock.sleeps)

    @pytest.mark.parametrize(
        "error",
        [ProviderAuthError("HTTP 403", 403), ProviderDataError("bad"), ProviderNotFoundError("x")],
    )
    async def test_permanent_errors_are_raised_at_once(self, error: ProviderError) -> None:
        """Never retried: no sleep at all."""
        clock = FakeClock()
        with pytest.raises(type(error)):
            await retrier(RetryPolicy(), clock).run(failing(error))
        assert [] == clock.sleeps

    async def test_a_429_waits_exactly_its_retry_after(self) -> None:
        """A Retry-After that fits the budget is honoured as given."""
        clock = FakeClock()
        run = retrier(RetryPolicy(budget_seconds=60), clock)
        assert "ok" == await run.run(failing(ProviderRateLimitError("HTTP 429", 12.5)))
        assert [12.5] == clock.sleeps

    async def test_a_429_beyond_the_budget_is_raised_at_once_with_its_retry_after(self) -> None:
        """The daemon's planner gets retry_after to wait; the plugin does not sleep."""
        clock = FakeClock()
        run = retrier(RetryPolicy(budget_seconds=60), clock)
        with pytest.raises(ProviderRateLimitError) as caught:
            await run.run(failing(ProviderRateLimitError("HTTP 429", 3600)))
        assert (3600, []) == (caught.value.retry_after, clock.sleeps)

    async def test_the_budget_is_shared_by_every_request_of_a_fetch(self) -> None:
        """One retrier, two requests: the second cannot use what the first spent."""
        clock = FakeClock()
        run = retrier(RetryPolicy(attempts=5, budget_seconds=30), clock)
        assert "ok" == await run.run(failing(ProviderRateLimitError("HTTP 429", 25)))
        with pytest.raises(ProviderRateLimitError):
            await run.run(failing(ProviderRateLimitError("HTTP 429", 10)))
        assert ([25], 5.0) == (clock.sleeps, run.remaining)

    async def test_a_backoff_that_would_overrun_the_budget_gives_up(self) -> None:
        """A 5xx is raised rather than waiting past the budget."""
        clock = FakeClock()
        run = retrier(
            RetryPolicy(attempts=10, base_delay=100, max_delay=100, budget_seconds=1), clock
        )
        errors = [ProviderServerError("HTTP 500", 500) for _ in range(10)]
        with pytest.raises(ProviderServerError):
            await run.run(failing(*errors))
        assert all(delay <= 1 for delay in clock.sleeps)

    async def test_no_retry_makes_one_attempt(self) -> None:
        """NO_RETRY: the first transient error is raised."""
        clock = FakeClock()
        with pytest.raises(ProviderServerError):
            await retrier(NO_RETRY, clock).run(failing(ProviderServerError("HTTP 502", 502)))
        assert [] == clock.sleeps


class TestRetryFields:
    def test_a_policy_comes_from_the_retry_settings(self) -> None:
        """RETRY_FIELDS parse into a RetryPolicy over the plugin's default."""
        settings = ConfigFields(RETRY_FIELDS).parse(
            {"retry_attempts": "2", "retry_base_seconds": 0.5, "retry_budget_seconds": 9}
        )
        default = RetryPolicy(max_delay=7, retry_statuses=frozenset({403}))
        expected = RetryPolicy(2, 0.5, 7, 9.0, frozenset({403}))
        assert expected == RetryPolicy.from_settings(settings, default)
