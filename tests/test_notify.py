"""sd_notify: a real AF_UNIX datagram socket stands in for systemd's NOTIFY_SOCKET."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog

from energyd.notify import SystemdNotifier, status_line
from tests.support.broker import MosquittoBroker
from tests.support.fake_octopus import RunningFake
from tests.support.process import energyd_env, start_energyd


class FakeNotifySocket:
    """systemd's side of the protocol: a bound datagram socket that keeps what it receives."""

    def __init__(self, address: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.setblocking(False)
        self.received: list[str] = []

    def close(self) -> None:
        self.sock.close()

    def drain(self) -> list[str]:
        """Every datagram already queued (sends to a local socket are queued synchronously)."""
        while True:
            try:
                self.received.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return self.received

    async def wait_for(self, matches: Callable[[str], bool], within: float = 30.0) -> str:
        """The first message (already received or arriving within ``within`` s) that matches."""
        loop = asyncio.get_running_loop()
        seen = 0
        try:
            async with asyncio.timeout(within):
                while True:
                    for message in self.received[seen:]:
                        if matches(message):
                            return message
                    seen = len(self.received)
                    data = await loop.sock_recv(self.sock, 4096)
                    self.received.append(data.decode())
        except TimeoutError:
            raise AssertionError(f"no matching notification; received {self.received}") from None


#: A fake NOTIFY_SOCKET: (the variable's value, the receiving end).
Notify = tuple[str, FakeNotifySocket]


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[Notify]:
    """A path socket: (NOTIFY_SOCKET value, the receiving end)."""
    path = str(tmp_path / "notify.sock")
    fake = FakeNotifySocket(path)
    try:
        yield path, fake
    finally:
        fake.close()


@pytest.fixture
def abstract_socket() -> Iterator[Notify]:
    """An abstract-namespace socket: (``@name``, the receiving end)."""
    name = f"energyd-test-{uuid.uuid4().hex}"
    fake = FakeNotifySocket("\0" + name)
    try:
        yield f"@{name}", fake
    finally:
        fake.close()


class TestDisabled:
    def test_without_notify_socket_everything_is_a_no_op(self) -> None:
        """No NOTIFY_SOCKET: disabled, no watchdog, and every call returns quietly."""
        notifier = SystemdNotifier({"WATCHDOG_USEC": "1000000"})
        notifier.ready("up")
        notifier.status("fine")
        notifier.watchdog()
        notifier.stopping()
        assert (False, None) == (notifier.enabled, notifier.watchdog_interval)

    async def test_watchdog_loop_returns_at_once_when_off(self) -> None:
        """Without a watchdog the loop task ends immediately instead of idling."""
        await asyncio.wait_for(SystemdNotifier({}).watchdog_loop(), 5)

    def test_an_unsupported_address_disables(self) -> None:
        """A NOTIFY_SOCKET that is neither a path nor @abstract (e.g. vsock:) is not used."""
        assert False is SystemdNotifier({"NOTIFY_SOCKET": "vsock:2:1234"}).enabled


class TestMessages:
    def test_ready_carries_the_status(self, notify_socket: Notify) -> None:
        """ready(status) is one datagram: READY=1 and a STATUS= line."""
        address, fake = notify_socket
        SystemdNotifier({"NOTIFY_SOCKET": address}).ready("started: 1 provider(s)")
        assert ["READY=1\nSTATUS=started: 1 provider(s)"] == fake.drain()

    def test_status_stopping_and_watchdog(self, notify_socket: Notify) -> None:
        """STATUS=, WATCHDOG=1 and STOPPING=1 arrive in the order sent."""
        address, fake = notify_socket
        notifier = SystemdNotifier({"NOTIFY_SOCKET": address})
        notifier.status("octopus_agile: ok")
        notifier.watchdog()
        notifier.stopping()
        assert ["STATUS=octopus_agile: ok", "WATCHDOG=1", "STOPPING=1"] == fake.drain()

    def test_status_is_kept_on_one_line(self, notify_socket: Notify) -> None:
        """A newline in a status cannot smuggle in another assignment (READY=1)."""
        address, fake = notify_socket
        SystemdNotifier({"NOTIFY_SOCKET": address}).status("bad\nREADY=1")
        assert ["STATUS=bad READY=1"] == fake.drain()

    def test_abstract_namespace_socket(self, abstract_socket: Notify) -> None:
        """NOTIFY_SOCKET=@name reaches the abstract socket of that name."""
        address, fake = abstract_socket
        notifier = SystemdNotifier({"NOTIFY_SOCKET": address})
        notifier.ready()
        assert (True, ["READY=1"]) == (notifier.enabled, fake.drain())


class TestSendFailures:
    def test_a_missing_socket_never_raises_and_is_logged_once(self, tmp_path: Path) -> None:
        """Sends to a socket that is gone are dropped; one warning, not one per send."""
        notifier = SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
        with structlog.testing.capture_logs() as logs:
            notifier.ready("up")
            notifier.watchdog()
            notifier.stopping()
        events = [entry["event"] for entry in logs]
        assert ["systemd.notify_failed"] == events


class TestWatchdogInterval:
    @pytest.mark.parametrize(
        ("usec", "expected"),
        [("30000000", 15.0), ("200000", 0.1), ("0", None), ("soon", None), ("", None)],
    )
    def test_half_of_watchdog_usec(self, usec: str, expected: float | None) -> None:
        """The ping interval is half of WATCHDOG_USEC in seconds; nonsense turns it off."""
        env = {"NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": usec}
        assert expected == SystemdNotifier(env).watchdog_interval

    def test_watchdog_meant_for_another_process_is_ignored(self) -> None:
        """WATCHDOG_PID naming another process (a parent's watchdog) is not ours to ping."""
        env = {
            "NOTIFY_SOCKET": "/run/systemd/notify",
            "WATCHDOG_USEC": "30000000",
            "WATCHDOG_PID": str(os.getpid() + 1),
        }
        assert None is SystemdNotifier(env).watchdog_interval

    def test_watchdog_for_this_process(self) -> None:
        """WATCHDOG_PID equal to our own pid keeps the watchdog on."""
        env = {
            "NOTIFY_SOCKET": "/run/systemd/notify",
            "WATCHDOG_USEC": "30000000",
            "WATCHDOG_PID": str(os.getpid()),
        }
        assert 15.0 == SystemdNotifier(env).watchdog_interval

    async def test_loop_pings_repeatedly(self, notify_socket: Notify) -> None:
        """The loop keeps sending WATCHDOG=1 until it is cancelled."""
        address, fake = notify_socket
        notifier = SystemdNotifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "20000"})
        task = asyncio.create_task(notifier.watchdog_loop())
        try:
            await fake.wait_for(lambda _: len(fake.received) >= 3)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert {"WATCHDOG=1"} == set(fake.received)


class TestDaemon:
    async def test_run_notifies_ready_status_watchdog_and_stopping(
        self,
        tmp_path: Path,
        notify_socket: Notify,
        mosquitto: MosquittoBroker,
        base_topic: str,
        fake_api: RunningFake,
    ) -> None:
        """`energyd run` under Type=notify: READY with a status, pings, STOPPING on SIGTERM."""
        address, fake = notify_socket
        config = tmp_path / "energyd.toml"
        config.write_text(
            f'config_dir = "{tmp_path / "config"}"\n'
            "[energy.providers.octopus_agile]\n"
            f'region = "C"\nbase_url = "{fake_api.url}"\nretry_base_seconds = 0.01\n'
            f'[mqtt]\nhost = "127.0.0.1"\nport = {mosquitto.port}\n'
            f'base_topic = "{base_topic}"\nclient_id = "{base_topic}"\n'
        )
        # WATCHDOG_PID stays unset: the child's pid is not known before it starts.
        env = energyd_env(NOTIFY_SOCKET=address, WATCHDOG_USEC="200000")
        with (tmp_path / "energyd.log").open("wb") as log_file:
            process = await start_energyd(
                config,
                "run",
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log_file,
            )
            try:
                ready = await fake.wait_for(lambda m: "READY=1" in m.splitlines())
                await fake.wait_for(lambda m: m == "WATCHDOG=1")
                # a status after the first fetch: by then the signal handlers are installed
                health = await fake.wait_for(lambda m: m.startswith("STATUS=octopus_agile: "))
                process.send_signal(signal.SIGTERM)
                await fake.wait_for(lambda m: m == "STOPPING=1")
                code = await asyncio.wait_for(process.wait(), 30)
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
        messages = fake.drain()
        assert "READY=1\nSTATUS=started: 1 provider(s)" == ready
        assert health.removeprefix("STATUS=octopus_agile: ") in {"ok", "degraded"}
        assert messages.index(ready) < messages.index("WATCHDOG=1")
        assert 0 == code


class TestStatusLine:
    def test_states_only(self) -> None:
        """Without a block the line is each provider's state, as before."""
        assert "octopus_agile: ok, export: stale" == status_line(
            {"octopus_agile": "ok", "export": "stale"}
        )

    def test_a_block_is_named(self) -> None:
        """A plugin's loop block follows the states: who, how long, in which call, when."""
        note = "slow blocked the event loop for 5.0 s in fetch_prices at 2026-11-25T16:00:05Z"
        expected = (
            "octopus_agile: ok, slow: degraded; slow blocked the event loop for 5.0 s in "
            "fetch_prices at 2026-11-25T16:00:05Z"
        )
        assert expected == status_line({"octopus_agile": "ok", "slow": "degraded"}, [note])


class TestWatchdogHonesty:
    async def test_no_ping_while_the_loop_is_held(self, notify_socket: Notify) -> None:
        """Pings stop while the event loop is blocked and resume after it: a thread stamps
        each datagram as it arrives, and none arrives during the block."""
        address, fake = notify_socket
        fake.sock.setblocking(True)
        fake.sock.settimeout(0.05)
        arrivals: list[float] = []
        done = threading.Event()

        def receive() -> None:
            while not done.is_set():
                try:
                    fake.sock.recv(64)
                except TimeoutError:
                    continue
                arrivals.append(time.monotonic())

        receiver = threading.Thread(target=receive, daemon=True)
        receiver.start()
        notifier = SystemdNotifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "40000"})
        task = asyncio.create_task(notifier.watchdog_loop())
        try:
            await asyncio.sleep(0.1)
            held_from = time.monotonic()
            time.sleep(0.4)  # noqa: ASYNC251 - the held loop under test
            held_until = time.monotonic()
            await asyncio.sleep(0.1)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            done.set()
            receiver.join(1)
        # a ping sent just before the block may be stamped a little late by the thread
        during = [t for t in arrivals if held_from + 0.1 < t < held_until]
        assert [] == during
        assert any(t < held_from for t in arrivals)
        assert any(t >= held_until for t in arrivals)
