"""Topic names under the configurable base topic (pure; no I/O).

::

    <base>/status                                  online | offline (retained; the will)
    <base>/providers                               plugin status and health (retained JSON)
    <base>/prices/<provider_id>/<region>/current   the slot now (retained)
    <base>/prices/<provider_id>/<region>/next      the next slot (retained)
    <base>/prices/<provider_id>/<region>/upcoming  all known slots from now on (retained)
    <base>/prices/<provider_id>/<region>/<figure>  derived figures: today, tomorrow,
                                                   stats/<period>, level, windows/<name>,
                                                   predbat, emhass (retained)
    <base>/settings                                selected provider and regions (retained)
    <base>/request/<command>  ->  <base>/response/<command>

A command may contain ``/`` (``providers/status``). Instances in a share group
(``mqtt.share_group``) subscribe to the requests as ``$share/<group>/<base>/request/#``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

__all__ = ["PriceKind", "Topics", "is_publishable_topic", "unshared"]

PriceKind = Literal["current", "next", "upcoming"]
_PRICE_KINDS: frozenset[str] = frozenset(get_args(PriceKind))

_ONLINE_STATUS = "status"
_SHARE = "$share"
_REQUEST = "request"
_RESPONSE = "response"


def is_publishable_topic(topic: str) -> bool:
    """Whether ``topic`` can be published to: non-empty, no wildcards, no NUL."""
    return bool(topic) and not any(char in topic for char in "+#\x00")


def unshared(topic_filter: str) -> str:
    """The topic filter of a subscription: ``$share/<group>/<filter>`` without its prefix,
    any other filter as it is (a shared subscription matches the topics its filter does)."""
    levels = topic_filter.split("/", 2)
    if levels[0] == _SHARE and len(levels) == 3:
        return levels[2]
    return topic_filter


def _under(topic: str, root: str) -> bool:
    """Whether ``topic`` is ``root`` or below it (whole levels: ``ab`` is not under ``a``)."""
    return topic == root or topic.startswith(f"{root}/")


def _segment(value: str, what: str) -> str:
    """One topic level taken from data (a provider id, a region): no ``/`` or wildcards."""
    if not value or "/" in value or not is_publishable_topic(value):
        raise ValueError(f"{what} {value!r} cannot be used as one MQTT topic level")
    return value


def _command(command: str) -> str:
    if not is_publishable_topic(command) or command.startswith("/") or command.endswith("/"):
        raise ValueError(f"command {command!r} is not a valid command name")
    if "" in command.split("/"):
        raise ValueError(f"command {command!r} has an empty level")
    return command


@dataclass(frozen=True, slots=True)
class Topics:
    """Every topic energyd publishes to or listens on, for one base topic."""

    base: str = "energyd"

    def __post_init__(self) -> None:
        if not is_publishable_topic(self.base) or self.base != self.base.strip("/"):
            raise ValueError(f"base topic {self.base!r}: non-empty, no wildcards, no edge '/'")

    def status(self) -> str:
        return f"{self.base}/{_ONLINE_STATUS}"

    def providers(self) -> str:
        return f"{self.base}/providers"

    def price(self, provider_id: str, region: str, kind: PriceKind) -> str:
        if kind not in _PRICE_KINDS:
            raise ValueError(f"price kind {kind!r} is not one of {sorted(_PRICE_KINDS)}")
        provider = _segment(provider_id, "provider id")
        return f"{self.base}/prices/{provider}/{_segment(region, 'region')}/{kind}"

    def figure(self, provider_id: str, region: str, name: str) -> str:
        """A derived-figure topic, e.g. ``name="stats/today"`` or ``"windows/overnight"``."""
        levels = name.split("/")
        if not 1 <= len(levels) <= 2:
            raise ValueError(f"figure {name!r}: one or two topic levels")
        for level in levels:
            _segment(level, "figure")
        provider = _segment(provider_id, "provider id")
        return f"{self.base}/prices/{provider}/{_segment(region, 'region')}/{name}"

    def settings(self) -> str:
        return f"{self.base}/settings"

    def request(self, command: str) -> str:
        return f"{self.base}/{_REQUEST}/{_command(command)}"

    def response(self, command: str) -> str:
        """Where the reply to ``command`` goes (any command that arrived is accepted)."""
        if not command or not is_publishable_topic(command):
            raise ValueError(f"command {command!r} cannot be part of a topic")
        return f"{self.base}/{_RESPONSE}/{command}"

    def reply_topic_refusal(self, topic: str, discovery_prefix: str) -> str | None:
        """Why a reply may not be published to ``topic`` (an MQTT v5 Response Topic), or None.

        Replies go to ``<base>/response/...`` or to a topic outside energyd's own tree and the
        Home Assistant discovery prefix: a request must not be able to overwrite retained
        state (``<base>/prices/...``, ``<base>/status``), announce entities, or make energyd
        answer itself (``<base>/request/...``).
        """
        if not is_publishable_topic(topic):
            return "a topic to publish to has no wildcards (+, #) or NUL"
        if topic.startswith("$"):
            return "topics starting with '$' are the broker's"
        if _under(topic, self.base) and not _under(topic, f"{self.base}/{_RESPONSE}"):
            return f"inside energyd's own topics (allowed there: {self.base}/{_RESPONSE}/...)"
        if _under(topic, discovery_prefix):
            return f"inside the Home Assistant discovery prefix {discovery_prefix!r}"
        return None

    def request_filter(self, share_group: str | None = None) -> str:
        """``<base>/request/#``; with ``share_group``, the MQTT v5 shared subscription
        ``$share/<group>/<base>/request/#``: the broker hands each request to one subscriber
        of the group. A request arrives on its own topic either way (:meth:`command_of`)."""
        plain = f"{self.base}/{_REQUEST}/#"
        if share_group is None:
            return plain
        return f"{_SHARE}/{_segment(share_group, 'share group')}/{plain}"

    def command_of(self, topic: str) -> str | None:
        """The command a request topic names, or ``None`` if ``topic`` is not a request."""
        prefix = f"{self.base}/{_REQUEST}/"
        if not topic.startswith(prefix):
            return None
        command = topic[len(prefix) :]
        return command or None
