"""systemd's notification protocol (``sd_notify``) over a datagram socket, standard library only.

Under ``Type=notify`` systemd passes ``NOTIFY_SOCKET`` (a path, or ``@name`` for an abstract
socket) and, with ``WatchdogSec=``, ``WATCHDOG_USEC`` (and ``WATCHDOG_PID``, the process meant).
Without ``NOTIFY_SOCKET`` (a terminal, Docker, the tests) every call is a no-op. A failed send
never raises: it is logged once and the daemon goes on, since the supervisor's channel is not
worth stopping the daemon for.

The watchdog is pinged from the event loop itself (:meth:`SystemdNotifier.watchdog_loop`), so
a wedged loop stops pinging and systemd restarts the service. The ping comes only from that
coroutine's tick — never from a thread, a signal handler or anything else that could run
while the loop is held — so systemd is never told "alive" for a loop that is not. A plugin
that blocks the loop (``time.sleep`` in ``fetch_prices``) longer than ``WatchdogSec`` gets
the service restarted (SIGABRT; the daemon enables :mod:`faulthandler`, so the journal shows
the stack, naming the plugin's file and line); with pings every ``WatchdogSec/2`` a block
longer than half of it may already do so, depending on when the last ping went out. Shorter
blocks are named in the ``STATUS=`` line (:func:`status_line`): ``systemctl status`` shows
which plugin blocked the loop for how long.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterable, Mapping

import structlog

__all__ = ["SystemdNotifier", "status_line"]

log = structlog.get_logger(__name__)

#: Bound on one send: systemd reads at once, and the event loop must not hang on it.
SEND_TIMEOUT_SECONDS = 1.0


def _address(value: str | None) -> str | None:
    """The socket address for ``NOTIFY_SOCKET``; ``@name`` is Linux's abstract namespace."""
    if not value:
        return None
    if value.startswith("@"):
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    log.warning("systemd.notify_socket_unsupported", notify_socket=value)
    return None


def _watchdog_interval(environ: Mapping[str, str]) -> float | None:
    """Half of ``WATCHDOG_USEC`` in seconds, when meant for this process; else None."""
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    pid = environ.get("WATCHDOG_PID")
    if pid:
        try:
            if int(pid) != os.getpid():
                return None
        except ValueError:
            return None
    return usec / 1_000_000 / 2


def status_line(states: Mapping[str, str], notes: Iterable[str] = ()) -> str:
    """The ``STATUS=`` text: each provider's health state, then notes (loop blocks), e.g.
    ``octopus_agile: ok, slow: degraded; slow blocked the event loop for 5.0 s in
    fetch_prices at 2026-11-25T16:00:05Z``."""
    text = ", ".join(f"{key}: {state}" for key, state in states.items())
    return "; ".join([text, *notes]) if text else "; ".join(notes)


def _one_line(text: str) -> str:
    """STATUS= takes one line: newlines would start new (unintended) assignments."""
    return " ".join(text.split())


class SystemdNotifier:
    """Tells systemd about readiness, status, stopping and liveness (no-op outside systemd)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._address = _address(env.get("NOTIFY_SOCKET"))
        self.enabled: bool = self._address is not None
        self._interval = _watchdog_interval(env) if self.enabled else None
        self._failure_logged = False

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between watchdog pings (half of ``WATCHDOG_USEC``); None when off."""
        return self._interval

    def ready(self, status: str | None = None) -> None:
        """``READY=1``: start-up is complete (with a ``STATUS=`` line when given)."""
        lines = ["READY=1"]
        if status is not None:
            lines.append(f"STATUS={_one_line(status)}")
        self._send("\n".join(lines))

    def status(self, text: str) -> None:
        """``STATUS=...``: a one-line human-readable state (``systemctl status`` shows it)."""
        self._send(f"STATUS={_one_line(text)}")

    def stopping(self) -> None:
        """``STOPPING=1``: shutdown has begun."""
        self._send("STOPPING=1")

    def watchdog(self) -> None:
        """``WATCHDOG=1``: still alive."""
        self._send("WATCHDOG=1")

    async def watchdog_loop(self) -> None:
        """Ping the watchdog every interval from the event loop; return at once when off."""
        interval = self._interval
        if interval is None:
            return
        log.info("systemd.watchdog_enabled", interval_seconds=interval)
        while True:
            self.watchdog()
            await asyncio.sleep(interval)

    def _send(self, message: str) -> None:
        if self._address is None:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.settimeout(SEND_TIMEOUT_SECONDS)
                sock.sendto(message.encode(), self._address)
        except OSError as exc:
            if not self._failure_logged:
                self._failure_logged = True
                log.warning(
                    "systemd.notify_failed",
                    sent=message.split("\n", 1)[0],
                    error=f"{type(exc).__name__}: {exc}",
                )
