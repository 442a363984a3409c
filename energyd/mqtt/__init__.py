"""MQTT: topic names, JSON payloads, command requests and the broker connection loop.

- :mod:`energyd.mqtt.topics`    topic names under the base topic (pure)
- :mod:`energyd.mqtt.payloads`  JSON payloads for the retained topics (pure)
- :mod:`energyd.mqtt.commands`  request parsing, validation, routing and replies
- :mod:`energyd.mqtt.client`    :class:`MqttClient`, the connection loop (aiomqtt)
"""

from energyd.mqtt.client import MqttClient, MqttStats
from energyd.mqtt.commands import (
    MAX_REQUEST_BYTES,
    NO_TRANSACTION,
    CommandArgs,
    CommandRouter,
    ErrorCode,
    Reply,
    Request,
    parse_request,
)
from energyd.mqtt.payloads import (
    dumps,
    iso_utc,
    minor_unit,
    price_payload,
    providers_payload,
    settings_payload,
    slot_json,
    upcoming_payload,
)
from energyd.mqtt.topics import PriceKind, Topics

__all__ = [
    "MAX_REQUEST_BYTES",
    "NO_TRANSACTION",
    "CommandArgs",
    "CommandRouter",
    "ErrorCode",
    "MqttClient",
    "MqttStats",
    "PriceKind",
    "Reply",
    "Request",
    "Topics",
    "dumps",
    "iso_utc",
    "minor_unit",
    "parse_request",
    "price_payload",
    "providers_payload",
    "settings_payload",
    "slot_json",
    "upcoming_payload",
]
