"""The MQTT connection loop: retained state, availability and command requests.

:class:`MqttClient` keeps one connection to the broker alive for the life of the daemon:

- It connects with MQTT v5, a stable client id (``energyd-<instance>``, see
  ``Settings.client_id``) and a persistent session (``clean_start`` off, a session expiry
  interval), so the QoS 1 request subscription and the requests published while the daemon
  was away survive a short disconnect or a broker restart (not in a share group: below).
  When another client takes the session over (the same client id: reason code 142, or
  connections dropped right after connecting, again and again), the log says so:
  ``mqtt.session_taken_over``.
- ``<base>/status`` is ``online`` (retained) while connected; the will sets it to
  ``offline`` when the connection dies, and a clean shutdown publishes ``offline`` itself.
  Another client setting it ``offline`` while this one is connected -- the will or the
  shutdown of a second energyd on the same base topic -- is answered with ``online`` again
  (the topic is followed without retained messages or our own), so ``offline`` stays only
  when no energyd of the base topic is connected.
- Retained state (prices, provider status, discovery) is cached: :meth:`publish_retained`
  works while disconnected, and every (re)connect re-publishes the whole cache.
- Requests on ``<base>/request/<command>`` are answered on ``<base>/response/<command>``,
  or on the MQTT v5 Response Topic with the Correlation Data copied back, at the request's
  QoS (a QoS 0 request gets a QoS 0 reply: no acknowledgement for the broker to wait on).
  Retained state and ``status`` always go out at QoS 1.
- In a share group (``mqtt.share_group``) the requests are taken through the MQTT v5 shared
  subscription ``$share/<group>/<base>/request/#``: the broker hands each to one connected
  instance of the group. The session is then not kept (clean start, no expiry): a stopped or
  dead instance's session would otherwise hold its share of the requests, unanswered, until
  it expired, while the others could have answered them.
- Other topics (Home Assistant's ``homeassistant/status``) can be followed with
  :meth:`add_subscription`; :meth:`republish` sends cached retained state again on demand.
- A dropped connection or a refused connect is logged and retried with exponential,
  jittered backoff. When a broker that had been healthy stops accepting connections
  altogether (restart, outage), the backoff is cut short: the port is probed with a bare TCP
  connect every :data:`PROBE_INTERVAL` seconds, and the first accepted probe reconnects at
  once, however long the outage was. A broker that accepts TCP but refuses the session (bad
  credentials, TLS) gets the full backoff.
- One request never ends the connection: its reply always serialises, a refused Response
  Topic gets an ``invalid_response_topic`` error, and a failure while answering is logged.
- Anything unexpected propagates -- after ``offline`` is published, so a crashed daemon
  never leaves ``online`` retained (a clean DISCONNECT would suppress the will).

Use it either as an async context manager (which runs :meth:`run` in a background task
named ``energyd.mqtt``) or by running :meth:`run` in a task group of your own -- not both.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import math
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final, Self

import aiomqtt
import structlog
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from energyd.config import MqttSettings, client_id_of, default_instance
from energyd.domain.planning import backoff_delay
from energyd.domain.time import iso_utc
from energyd.exceptions import ConfigError
from energyd.mqtt.commands import CommandRouter, refused_response_topic
from energyd.mqtt.topics import Topics, is_publishable_topic, unshared

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_CONCURRENT_REQUESTS",
    "OFFLINE",
    "ONLINE",
    "SESSION_EXPIRY_SECONDS",
    "MessageHandler",
    "MqttClient",
    "MqttStats",
]

DEFAULT_TIMEOUT: Final = 10.0
"""Seconds any one network operation (publish, subscribe, CONNACK) may take."""
SESSION_EXPIRY_SECONDS: Final = 3600
"""How long the broker keeps our session (subscription + queued requests) while we are away."""
MAX_CONCURRENT_REQUESTS: Final = 8
ONLINE: Final = b"online"
OFFLINE: Final = b"offline"

PROBE_INTERVAL: Final = 0.5
"""Seconds between TCP probes of a broker that had been healthy and went away."""

SESSION_TAKEN_OVER: Final = 142
"""MQTT v5 reason code of a DISCONNECT: another client connected with our client id."""
SHORT_SESSION_SECONDS: Final = 5.0
SHORT_SESSIONS: Final = 3
"""That many sessions in a row ending within :data:`SHORT_SESSION_SECONDS` of their connect
look like a session taken over too (a broker that says no reason code, as in MQTT 3.1.1)."""

_PAHO_CONNECT_TIMEOUT: Final = 5.0  # paho's own bound on opening the socket
_PENDING_CALLS_THRESHOLD: Final = 64  # aiomqtt warns above this many calls in flight
_BATCH: Final = 48  # publishes in flight at once in publish_retained_many (below that)

log = structlog.get_logger("energyd.mqtt")

MessageHandler = Callable[[str, bytes], Awaitable[None]]
"""Called with the topic and payload of a message on an :meth:`MqttClient.add_subscription`."""


@dataclass(slots=True)
class MqttStats:
    """Counters for a ``/metrics`` endpoint; :attr:`MqttClient.stats` returns a copy."""

    connects: int = 0
    disconnects: int = 0
    published: int = 0
    publish_failures: int = 0
    requests: int = 0
    replies: int = 0
    retained_topics: int = 0
    last_error: str | None = None
    connected_since: datetime | None = None
    #: Since when no connection is up (from :meth:`MqttClient.run`'s start, or the last drop).
    disconnected_since: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("connected_since", "disconnected_since"):
            moment = getattr(self, key)
            if moment is not None:
                data[key] = iso_utc(moment)
        return data


class _State(enum.Enum):
    NEW = "new"
    RUNNING = "running"
    CLOSED = "closed"


def _tls_context(settings: MqttSettings) -> ssl.SSLContext | None:
    if not settings.tls:
        return None
    cafile = str(settings.ca_file.expanduser()) if settings.ca_file else None
    try:
        context = ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"mqtt.ca_file {cafile}: cannot load: {exc}", {"mqtt.ca_file": str(exc)}
        ) from exc
    if settings.tls_insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _properties(packet_type: int) -> Properties:
    # paho's Properties is not annotated
    return Properties(packet_type)  # type: ignore[no-untyped-call]


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


def _reason_code(exc: BaseException | None) -> int | None:
    """The MQTT reason code that ended a connection, from ``exc`` or what caused it."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, aiomqtt.MqttCodeError):
            value = getattr(exc.rc, "value", exc.rc)  # paho's ReasonCode, or an int
            return value if isinstance(value, int) else None
        exc = exc.__cause__ or exc.__context__
    return None


def _connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` (or every leaf of a group) is the connection failing, not a bug."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_connection_lost(inner) for inner in exc.exceptions)
    return isinstance(exc, aiomqtt.MqttError | TimeoutError)


async def _accepts(host: str, port: int, timeout: float) -> bool:  # noqa: ASYNC109
    """Whether ``host:port`` accepts a TCP connection now (closed again at once)."""
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def _correlation(request: Properties | None) -> Properties | None:
    """Reply properties carrying the request's v5 Correlation Data back, if it had any."""
    correlation = getattr(request, "CorrelationData", None)
    if correlation is None:
        return None
    properties = _properties(PacketTypes.PUBLISH)
    properties.CorrelationData = correlation
    return properties


async def _publish_together(client: aiomqtt.Client, messages: list[tuple[str, bytes]]) -> None:
    """Publish ``messages`` retained at QoS 1 at once, and wait for every acknowledgement.

    A coroutine around :func:`asyncio.gather`, not the gather itself: cancelling a gather's
    future ends it with a CancelledError *exception* rather than cancelled, which
    :meth:`MqttClient._bounded` would take for a stop of its own instead of the dropped
    connection it is (a broker killed during the burst then ended the connection loop)."""
    await asyncio.gather(
        *(
            client.publish(topic, payload, qos=1, retain=True, timeout=math.inf)
            for topic, payload in messages
        )
    )


class MqttClient:
    """One broker connection: retained state, ``<base>/status`` and command requests."""

    def __init__(
        self,
        settings: MqttSettings,
        router: CommandRouter,
        *,
        client_id: str | None = None,
        on_connect: Callable[[], Awaitable[None]] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_concurrent_requests: int = MAX_CONCURRENT_REQUESTS,
    ) -> None:
        """``client_id``: the daemon's (``Settings.client_id``); default ``mqtt.client_id``,
        else ``energyd-<host name>`` -- never a random one, which would lose the session."""
        if timeout <= 0 or max_concurrent_requests < 1:
            raise ValueError("timeout must be > 0 and max_concurrent_requests >= 1")
        self.topics = Topics(settings.base_topic)
        self._settings = settings
        self.client_id = client_id or client_id_of(settings, default_instance())
        self._router = router
        self._on_connect = on_connect
        self._timeout = timeout
        self._max_requests = max_concurrent_requests
        self._tls = _tls_context(settings)
        self._retained: dict[str, bytes] = {}  # what the broker should hold
        self._cleared: set[str] = set()  # retained topics still to be emptied
        self._sent: dict[str, bytes] = {}  # what this connection has published
        self._retained_lock = asyncio.Lock()
        self._subscriptions: dict[str, MessageHandler] = {}  # topic filter -> handler
        self._client: aiomqtt.Client | None = None
        self._ready = asyncio.Event()
        self._stats = MqttStats()
        self._state = _State.NEW
        self._running = False
        self._task: asyncio.Task[None] | None = None
        self._session_seconds = math.inf  # how long the last connection lasted
        self._drop_reason: int | None = (
            None  # the reason code that ended it, if the broker gave one
        )

    # -- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._state is not _State.NEW:
            raise RuntimeError(f"MqttClient is {self._state.value}; it can be entered once")
        self._state = _State.RUNNING
        self._task = asyncio.create_task(self.run(), name="energyd.mqtt")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._state = _State.CLOSED
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise

    @property
    def connected(self) -> bool:
        """Whether a connection to the broker is up right now."""
        return self._client is not None

    async def wait_ready(self) -> None:
        """Wait until connected, subscribed, ``online`` and the retained cache re-published."""
        await self._ready.wait()

    @property
    def stats(self) -> MqttStats:
        return replace(self._stats, retained_topics=len(self._retained))

    # -- retained state ------------------------------------------------------------------

    async def publish_retained(self, topic: str, payload: bytes) -> None:
        """Make ``payload`` the retained value of ``topic``, now or on the next connect.

        Never raises for a broker problem: the value stays cached and goes out again on
        reconnect. An unchanged payload is not re-sent on the same connection.
        """
        await self.publish_retained_many({topic: payload})

    async def publish_retained_many(self, messages: Mapping[str, bytes]) -> None:
        """:meth:`publish_retained` for many topics at once, in their order: the changed ones
        go out together, without waiting for each acknowledgement in turn (a slot boundary
        of 100 feeds). Unchanged ones are not re-sent; a broker problem never raises."""
        for topic in messages:
            if not is_publishable_topic(topic):
                raise ValueError(f"cannot publish to topic {topic!r}")
        for topic, payload in messages.items():
            self._retained[topic] = bytes(payload)
            self._cleared.discard(topic)
        async with self._retained_lock:
            client = self._client
            wanted = {t: self._retained.get(t) for t in messages}  # cleared meanwhile: None
            changed = [
                (t, p) for t, p in wanted.items() if p is not None and self._sent.get(t) != p
            ]
            if client is None or not changed:
                return
            try:
                await self._send_batches(client, changed)
            except (aiomqtt.MqttError, TimeoutError) as exc:
                log.info("mqtt.publish_deferred", topics=len(changed), error=str(exc))

    async def _send_batches(
        self, client: aiomqtt.Client, messages: list[tuple[str, bytes]]
    ) -> None:
        """Publish ``messages`` retained, in order, :data:`_BATCH` at a time without waiting
        for each acknowledgement in turn (aiomqtt counts its pending calls at each call: in
        chunks, that stays cheap). What a batch sent is :attr:`_sent` once acknowledged; an
        empty payload clears its topic. Raises what the broker or the timeout does."""
        for start in range(0, len(messages), _BATCH):
            chunk = messages[start : start + _BATCH]
            try:
                await self._bounded(client, _publish_together(client, chunk))
            except (aiomqtt.MqttError, TimeoutError):
                self._stats.publish_failures += 1
                raise
            self._stats.published += len(chunk)
            for topic, payload in chunk:
                if payload:
                    self._sent[topic] = payload
                else:
                    self._cleared.discard(topic)
                    self._sent.pop(topic, None)

    async def clear_retained(self, topic: str) -> None:
        """Remove the retained value of ``topic`` (an empty retained message) and forget it."""
        if not is_publishable_topic(topic):
            raise ValueError(f"cannot publish to topic {topic!r}")
        self._retained.pop(topic, None)
        self._cleared.add(topic)
        async with self._retained_lock:
            client = self._client
            # published again meanwhile, or emptied by a reconnect's re-publication: done
            if client is None or topic not in self._cleared:
                return
            try:
                await self._send_batches(client, [(topic, b"")])
            except (aiomqtt.MqttError, TimeoutError) as exc:
                log.info("mqtt.publish_deferred", topic=topic, error=str(exc))

    async def _republish_all(self, client: aiomqtt.Client) -> None:
        """On connect: empty the topics cleared while away, then send every retained value
        (in the order first published), in batches (a broker restart with 100 feeds is a
        thousand topics: one acknowledgement at a time took a round trip each)."""
        async with self._retained_lock:
            self._sent.clear()
            cleared = [(topic, b"") for topic in self._cleared]
            await self._send_batches(client, [*cleared, *self._retained.items()])

    def retained_topics(self, *, exclude: Iterable[str] = ()) -> list[str]:
        """The topics with a retained value (in the order they were first published), but
        ``exclude``."""
        left_out = set(exclude)
        return [topic for topic in self._retained if topic not in left_out]

    async def republish(self, topics: Iterable[str] | None = None) -> None:
        """Send the retained values of ``topics`` (default: all, in that order) again now.

        Even when unchanged: for a consumer that wants state again (Home Assistant coming
        ``online``). Topics without a retained value are skipped. A no-op while disconnected,
        since every connect re-sends the whole cache; never raises for a broker problem.
        """
        async with self._retained_lock:
            client = self._client
            if client is None:
                return
            chosen = list(self._retained) if topics is None else list(topics)
            messages = [
                (topic, self._retained[topic]) for topic in chosen if topic in self._retained
            ]
            for topic, _ in messages:
                self._sent.pop(topic, None)
            try:
                await self._send_batches(client, messages)
            except (aiomqtt.MqttError, TimeoutError) as exc:
                log.info("mqtt.republish_deferred", error=str(exc))

    # -- other subscriptions ---------------------------------------------------------------

    async def add_subscription(self, topic_filter: str, handler: MessageHandler) -> None:
        """Follow ``topic_filter`` too: subscribed (QoS 1, retained messages delivered) on
        every connect, each message handed to ``await handler(topic, payload)``.

        Handlers run as tasks beside the command handlers (same concurrency bound); one that
        raises is logged and the connection goes on. Request topics stay commands: a filter
        that could match one is refused, as is a filter given twice.
        """
        try:
            aiomqtt.Wildcard(topic_filter)
        except ValueError as exc:
            raise ValueError(f"topic filter {topic_filter!r}: {exc}") from exc
        if self._overlaps_requests(topic_filter):
            raise ValueError(f"topic filter {topic_filter!r} overlaps the request topics")
        if topic_filter in self._subscriptions:
            raise ValueError(f"topic filter {topic_filter!r} is already subscribed")
        self._subscriptions[topic_filter] = handler
        client = self._client
        if client is not None:  # connected: now; otherwise (or on failure) at the next connect
            try:
                await self._subscribe(client, topic_filter)
            except (aiomqtt.MqttError, TimeoutError) as exc:
                log.info("mqtt.subscribe_deferred", topic=topic_filter, error=str(exc))

    def _overlaps_requests(self, topic_filter: str) -> bool:
        """Whether ``topic_filter`` (shared, ``$share/<group>/...``, or not) can match some
        ``<base>/request/<command>`` topic."""
        prefix = [*self.topics.base.split("/"), "request"]
        levels = unshared(topic_filter).split("/")
        for index, level in enumerate(prefix):
            if index >= len(levels):
                return False
            if levels[index] == "#":
                return True
            if levels[index] not in ("+", level):
                return False
        return len(levels) > len(prefix)

    async def _subscribe(self, client: aiomqtt.Client, topic_filter: str) -> None:
        await self._bounded(
            client,
            client.subscribe(topic_filter, options=SubscribeOptions(qos=1), timeout=math.inf),
        )

    async def _bounded(self, client: aiomqtt.Client, operation: Awaitable[object]) -> None:
        """Await one broker round trip, ending at the timeout -- or at once, with
        :class:`aiomqtt.MqttError`, when the connection drops meanwhile.

        aiomqtt 2.x leaves a QoS 1 publish (or a subscribe) waiting for an acknowledgement that
        a dropped connection will never bring; only its message iterator watches the
        connection. Here every wait watches it too (aiomqtt's own ``_disconnected`` future),
        so a drop in the middle of a publish burst does not hold the retained-state lock -- and
        with it the re-publication on the next connection -- for the whole timeout.
        """
        lost: asyncio.Future[None] = client._disconnected  # aiomqtt-internal, see above
        task = asyncio.ensure_future(operation)

        def drop(_: asyncio.Future[None]) -> None:
            task.cancel()  # a no-op once the operation is done

        # A callback rather than asyncio.wait(): this is every publish's path, and wait()'s
        # bookkeeping cost more than the rest of a publish (~40 us of a ~1 ms round trip).
        lost.add_done_callback(drop)
        try:
            async with asyncio.timeout(self._timeout):
                await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if lost.done() and task.cancelled() and not (current and current.cancelling()):
                raise aiomqtt.MqttError("connection lost while waiting for the broker") from (
                    None if lost.cancelled() else lost.exception()
                )
            raise  # a stop: ours to pass on
        finally:
            lost.remove_done_callback(drop)
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                    await task

    async def _deliver(
        self, handler: MessageHandler, topic: str, payload: bytes, slots: asyncio.Semaphore
    ) -> None:
        try:
            await handler(topic, payload)
        except Exception:
            log.exception("mqtt.handler_failed", topic=topic)
        finally:
            slots.release()

    # -- the loop --------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, serve and reconnect until cancelled; publishes ``offline`` on the way out."""
        if self._running:
            raise RuntimeError("MqttClient.run() is already running")
        self._running = True
        self._stats.disconnected_since = datetime.now(UTC)
        attempt = 0
        short_sessions = 0
        try:
            while True:
                connects = self._stats.connects
                error: BaseException | None = None
                try:
                    await self._session()
                except* (aiomqtt.MqttError, TimeoutError) as group:
                    error = _first_leaf(group)
                connected = self._stats.connects != connects
                short = (
                    connected
                    and error is not None
                    and self._session_seconds < SHORT_SESSION_SECONDS
                )
                short_sessions = short_sessions + 1 if short else 0
                reason = (_reason_code(error) or self._drop_reason) if connected else None
                self._report_takeover(reason, short_sessions)
                attempt = 0 if connected else attempt + 1
                delay = backoff_delay(
                    attempt + 1,
                    self._settings.reconnect_min_seconds,
                    self._settings.reconnect_max_seconds,
                )
                message = (str(error) or type(error).__name__) if error else "session ended"
                self._stats.last_error = message
                # Probe only a broker that worked before and now refuses TCP altogether: one
                # that accepts the socket but not the session keeps the plain backoff.
                probe = self._stats.connects > 0 and not await self._broker_accepts()
                log.warning(
                    "mqtt.disconnected",
                    error=message,
                    was_connected=connected,
                    retry_in=delay,
                    probing=probe,
                )
                if probe:
                    await self._until_broker_accepts(delay)
                else:
                    await asyncio.sleep(delay)
        finally:
            self._running = False

    def _report_takeover(self, reason_code: int | None, short_sessions: int) -> None:
        """Say in plain words when another client has our client id (the broker then drops
        one of the two each time the other connects, for as long as both run)."""
        advice = "give each energyd its own `instance` or `mqtt.client_id`"
        if reason_code == SESSION_TAKEN_OVER:
            message = f"another client connected with client id {self.client_id}; {advice}"
        elif short_sessions >= SHORT_SESSIONS:
            message = (
                f"the broker dropped {short_sessions} connections in a row within "
                f"{SHORT_SESSION_SECONDS:g} s of connecting: another client may be using client "
                f"id {self.client_id}; {advice}"
            )
        else:
            return
        log.warning(
            "mqtt.session_taken_over",
            client_id=self.client_id,
            reason_code=reason_code,
            message=message,
        )

    async def _broker_accepts(self) -> bool:
        return await _accepts(self._settings.host, self._settings.port, PROBE_INTERVAL)

    async def _until_broker_accepts(self, longest: float) -> None:
        """Sleep up to ``longest`` seconds, ending early once the broker's port accepts."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + longest
        while (remaining := deadline - loop.time()) > 0:
            await asyncio.sleep(min(PROBE_INTERVAL, remaining))
            if await self._broker_accepts():
                log.info("mqtt.broker_back", host=self._settings.host, port=self._settings.port)
                return

    def _new_client(self) -> aiomqtt.Client:
        settings = self._settings
        properties = _properties(PacketTypes.CONNECT)
        shared = settings.share_group is not None
        if not shared:  # in a share group no session is kept (see the module doc)
            properties.SessionExpiryInterval = SESSION_EXPIRY_SECONDS
        password = settings.password.get_secret_value() if settings.password else None
        client = aiomqtt.Client(
            settings.host,
            settings.port,
            username=settings.username,
            password=password,
            identifier=self.client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            will=aiomqtt.Will(self.topics.status(), OFFLINE, qos=1, retain=True),
            clean_start=shared,
            properties=properties,
            keepalive=settings.keepalive,
            # No aiomqtt timeouts: on Python 3.11 its asyncio.wait_for() can swallow a
            # cancellation that coincides with the awaited reply (a shutdown that never
            # ends). Every wait is bounded with asyncio.timeout() here instead.
            timeout=math.inf,
            tls_context=self._tls,
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )
        client.pending_calls_threshold = _PENDING_CALLS_THRESHOLD
        return client

    async def _session(self) -> None:
        """One connection, from connect to the error that ends it (or cancellation)."""
        settings = self._settings
        client = self._new_client()
        log.info(
            "mqtt.connecting", host=settings.host, port=settings.port, client_id=self.client_id
        )
        # Only the socket connect (paho, 5 s) is bounded inside aiomqtt; the CONNACK wait is
        # bounded here (see _new_client for why aiomqtt's own timeouts are off).
        async with asyncio.timeout(_PAHO_CONNECT_TIMEOUT + self._timeout):
            await client.__aenter__()
        started = asyncio.get_running_loop().time()
        try:
            self._client = client
            self._stats.connects += 1
            self._stats.connected_since = datetime.now(UTC)
            self._stats.disconnected_since = None
            try:
                await self._serve(client)
            except BaseException as exc:
                # A stop (cancellation) or a bug: say offline ourselves, since the clean
                # DISCONNECT below means the broker will not publish the will.
                if not _connection_lost(exc):
                    await self._say_offline(client)
                raise
            finally:
                self._client = None
                self._ready.clear()
                self._sent.clear()
                self._stats.disconnects += 1
                self._stats.connected_since = None
                self._stats.disconnected_since = datetime.now(UTC)
                self._session_seconds = asyncio.get_running_loop().time() - started
                lost = client._disconnected  # aiomqtt-internal (see _bounded); read, so retrieved
                dropped = lost.exception() if lost.done() and not lost.cancelled() else None
                self._drop_reason = _reason_code(dropped)
        finally:
            await self._disconnect(client)

    async def _disconnect(self, client: aiomqtt.Client) -> None:
        """A clean DISCONNECT (so no will) when still connected; a no-op after a drop."""
        try:
            async with asyncio.timeout(self._timeout):
                await client.__aexit__(None, None, None)
        except (aiomqtt.MqttError, TimeoutError) as exc:
            log.info("mqtt.disconnect_failed", error=str(exc) or type(exc).__name__)

    async def _serve(self, client: aiomqtt.Client) -> None:
        # Requests: no retained ones (a retained request is no request). Status: only what
        # others publish from now on (no retained value, not our own), to say online again.
        # A shared subscription may not take noLocal (MQTT v5 3.8.3.1); the request one
        # does not need it, and mosquitto sends no retained messages to a shared one anyway.
        fresh = SubscribeOptions.RETAIN_DO_NOT_SEND
        await self._bounded(
            client,
            client.subscribe(
                [
                    (
                        self.topics.request_filter(self._settings.share_group),
                        SubscribeOptions(qos=1, retainHandling=fresh),
                    ),
                    (
                        self.topics.status(),
                        SubscribeOptions(qos=1, noLocal=True, retainHandling=fresh),
                    ),
                ],
                timeout=math.inf,
            ),
        )
        for topic_filter in list(self._subscriptions):
            await self._subscribe(client, topic_filter)
        await self._publish(client, self.topics.status(), ONLINE, retain=True)
        await self._republish_all(client)
        if self._on_connect is not None:
            await self._on_connect()
        self._ready.set()
        log.info("mqtt.connected", retained=len(self._retained), commands=self._router.names())
        await self._serve_requests(client)

    async def _serve_requests(self, client: aiomqtt.Client) -> None:
        slots = asyncio.Semaphore(self._max_requests)
        status = self.topics.status()
        async with asyncio.TaskGroup() as group:
            async for message in client.messages:
                if message.topic.value == status and message.payload == OFFLINE:
                    await slots.acquire()
                    group.create_task(
                        self._say_online_again(client, slots), name="energyd.mqtt.status"
                    )
                command = self.topics.command_of(message.topic.value)
                handlers = [
                    handler
                    for topic_filter, handler in self._subscriptions.items()
                    if command is None and message.topic.matches(topic_filter)
                ]
                for handler in handlers:
                    await slots.acquire()
                    group.create_task(
                        self._deliver(handler, message.topic.value, bytes(message.payload), slots),
                        name="energyd.mqtt.subscription",
                    )
                if handlers:
                    continue
                if command is None or message.retain:
                    log.debug("mqtt.ignored", topic=message.topic.value, retain=message.retain)
                    continue
                await slots.acquire()
                group.create_task(
                    self._answer(client, command, message, slots), name="energyd.mqtt.command"
                )

    async def _say_online_again(self, client: aiomqtt.Client, slots: asyncio.Semaphore) -> None:
        """Another client set ``<base>/status`` offline while we are connected: the will of
        a second energyd of this base topic that died, or its shutdown. We still serve it."""
        try:
            await self._publish(client, self.topics.status(), ONLINE, retain=True)
        except (aiomqtt.MqttError, TimeoutError) as exc:
            log.info("mqtt.online_deferred", error=str(exc))
        else:
            log.info("mqtt.online_again", reason="another client set the status offline")
        finally:
            slots.release()

    async def _answer(
        self,
        client: aiomqtt.Client,
        command: str,
        message: aiomqtt.Message,
        slots: asyncio.Semaphore,
    ) -> None:
        try:
            self._stats.requests += 1
            payload = bytes(message.payload)
            response_topic = getattr(message.properties, "ResponseTopic", None) or None
            refusal = None
            if response_topic is not None:
                refusal = self.topics.reply_topic_refusal(
                    response_topic, self._settings.discovery_prefix
                )
            if refusal is None:
                reply = await self._router.answer(command, payload)
                topic = response_topic or self.topics.response(command)
            else:  # not run at all: the error goes to the default topic
                log.warning(
                    "command.bad_response_topic",
                    command=command,
                    topic=response_topic,
                    reason=refusal,
                )
                reply = refused_response_topic(payload, str(response_topic), refusal)
                topic = self.topics.response(command)
            await self._reply(client, topic, reply, message)
            self._stats.replies += 1
        except (aiomqtt.MqttError, TimeoutError) as exc:
            log.warning("command.reply_failed", command=command, error=str(exc))
        except Exception:  # one request must never end the connection (or the daemon)
            log.exception("command.reply_failed", command=command)
        finally:
            slots.release()

    async def _reply(
        self, client: aiomqtt.Client, topic: str, reply: bytes, request: aiomqtt.Message
    ) -> None:
        """The reply to ``request``: at its QoS, its Correlation Data copied, under a timeout.

        Not :meth:`_bounded`: a reply is sent from the task group of the connection's
        requests, which the end of the connection cancels anyway (and no lock is held), so
        watching for the drop here too would only cost each reply another task.
        """
        properties = _correlation(request.properties)
        try:
            async with asyncio.timeout(self._timeout):
                await client.publish(
                    topic, reply, qos=request.qos, properties=properties, timeout=math.inf
                )
        except (aiomqtt.MqttError, TimeoutError):
            self._stats.publish_failures += 1
            raise
        self._stats.published += 1

    async def _publish(
        self,
        client: aiomqtt.Client,
        topic: str,
        payload: bytes,
        *,
        retain: bool = False,
    ) -> None:
        """A QoS 1 publish under a timeout, counted in :attr:`stats`."""
        try:
            await self._bounded(
                client,
                client.publish(topic, payload, qos=1, retain=retain, timeout=math.inf),
            )
        except (aiomqtt.MqttError, TimeoutError):
            self._stats.publish_failures += 1
            raise
        self._stats.published += 1

    async def _say_offline(self, client: aiomqtt.Client) -> None:
        try:
            await self._publish(client, self.topics.status(), OFFLINE, retain=True)
        except (aiomqtt.MqttError, TimeoutError) as exc:
            log.warning("mqtt.offline_failed", error=str(exc))
        else:
            log.info("mqtt.offline")
