"""Timing each step of an awaitable: how long it held the event loop between two awaits.

A coroutine runs on the event loop in *steps*: from one suspension (an ``await`` that really
waits) to the next. While a step runs nothing else does, so a plugin that calls
``time.sleep(5)`` or parses for seconds inside ``fetch_prices`` stalls every command and
timer. Such a step cannot be pre-empted in-process, but it can be measured:
:class:`TimedSteps` drives the wrapped awaitable itself with ``send()`` / ``throw()`` — what
``await`` does — and reports the wall time (``time.monotonic``) of every step to
``on_step`` as soon as the step ends, before the event loop gets control back.

Everything else passes through unchanged: what the awaitable yields to the task (futures),
what the task sends back, exceptions thrown in (``CancelledError`` from ``task.cancel()`` or
``asyncio.timeout``), the result and the exception the awaitable ends with. Tasks the wrapped
code creates for itself run outside it and are not timed here (the loop-lag monitor,
:mod:`energyd.core.loopwatch`, still sees what they do to the loop).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Generator
from typing import Any, Generic, TypeVar

__all__ = ["BLOCK_THRESHOLD", "TimedSteps"]

T = TypeVar("T")

#: A step longer than this (seconds) is a block of the event loop.
BLOCK_THRESHOLD = 0.5


class TimedSteps(Generic[T]):
    """``await TimedSteps(awaitable, on_step)`` is ``await awaitable``, plus ``on_step(seconds)``
    after each of its steps (the last one too, whether it returned or raised)."""

    __slots__ = ("_awaitable", "_clock", "_on_step")

    def __init__(
        self,
        awaitable: Awaitable[T],
        on_step: Callable[[float], None],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._awaitable = awaitable
        self._on_step = on_step
        self._clock = clock

    def __await__(self) -> Generator[Any, Any, T]:
        if not isinstance(self._awaitable, Awaitable):  # a plugin's plain (non-async) method
            name = type(self._awaitable).__name__
            raise TypeError(f"object {name} can't be used in 'await' expression")
        inner = self._awaitable.__await__()
        sent: Any = None
        thrown: BaseException | None = None
        while True:
            started = self._clock()
            try:
                if thrown is None:
                    yielded = inner.send(sent)
                else:
                    error, thrown = thrown, None
                    yielded = inner.throw(error)
            except StopIteration as stop:
                self._on_step(self._clock() - started)
                result: T = stop.value
                return result
            except BaseException:
                self._on_step(self._clock() - started)
                raise
            self._on_step(self._clock() - started)
            try:
                sent = yield yielded
            except GeneratorExit:
                inner.close()
                raise
            except BaseException as exc:  # CancelledError and friends: into the awaitable
                thrown, sent = exc, None
