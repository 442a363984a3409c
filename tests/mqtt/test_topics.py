"""Topic names and request-topic parsing."""

from __future__ import annotations

import pytest

from energyd.mqtt.topics import Topics, is_publishable_topic, unshared


class TestNames:
    def test_status_and_providers(self) -> None:
        """Status and providers sit directly under the base topic."""
        topics = Topics("energyd")
        assert ("energyd/status", "energyd/providers") == (topics.status(), topics.providers())

    def test_price_kinds(self) -> None:
        """Each price kind has its own topic under provider and region."""
        topics = Topics("home/energyd")
        expected = [
            "home/energyd/prices/octopus_agile/C/current",
            "home/energyd/prices/octopus_agile/C/next",
            "home/energyd/prices/octopus_agile/C/upcoming",
        ]
        actual = [topics.price("octopus_agile", "C", k) for k in ("current", "next", "upcoming")]
        assert expected == actual

    def test_default_base(self) -> None:
        """The base topic defaults to energyd."""
        assert "energyd/status" == Topics().status()

    def test_request_response_and_filter(self) -> None:
        """A command (with '/' in it) maps to its request and response topics."""
        topics = Topics("e")
        expected = ("e/request/providers/status", "e/response/providers/status", "e/request/#")
        actual = (
            topics.request("providers/status"),
            topics.response("providers/status"),
            topics.request_filter(),
        )
        assert expected == actual


class TestShareGroup:
    def test_shared_request_filter(self) -> None:
        """In a share group the request filter is the MQTT v5 shared subscription."""
        assert "$share/pair/home/e/request/#" == Topics("home/e").request_filter("pair")

    @pytest.mark.parametrize("group", ["", "a/b", "a+", "#"])
    def test_bad_group(self, group: str) -> None:
        """A share group is one plain topic level."""
        with pytest.raises(ValueError, match="share group"):
            Topics().request_filter(group)

    @pytest.mark.parametrize(
        ("topic_filter", "expected"),
        [
            ("$share/g/e/request/#", "e/request/#"),
            ("$share/g/#", "#"),
            ("e/request/#", "e/request/#"),
            ("$share/g", "$share/g"),
            ("$SYS/#", "$SYS/#"),
        ],
    )
    def test_unshared(self, topic_filter: str, expected: str) -> None:
        """A shared subscription's filter without ``$share/<group>/``; others unchanged."""
        assert expected == unshared(topic_filter)

    def test_command_of_a_shared_delivery(self) -> None:
        """A request delivered through the group arrives on its own topic: the same command."""
        topics = Topics("e")
        assert "prices" == topics.command_of(topics.request("prices"))


class TestRefused:
    @pytest.mark.parametrize("base", ["", "a/#", "a/+/b", "/energyd", "energyd/"])
    def test_bad_base(self, base: str) -> None:
        """A base topic that is empty, has wildcards or edge slashes is refused."""
        with pytest.raises(ValueError, match="base topic"):
            Topics(base)

    @pytest.mark.parametrize(("provider", "region"), [("a/b", "C"), ("x", "+"), ("", "C")])
    def test_bad_price_levels(self, provider: str, region: str) -> None:
        """Provider ids and regions must each be one plain topic level."""
        with pytest.raises(ValueError, match="one MQTT topic level"):
            Topics().price(provider, region, "current")

    def test_bad_price_kind(self) -> None:
        """Only current, next and upcoming are price kinds."""
        with pytest.raises(ValueError, match="price kind"):
            Topics().price("p", "C", "yesterday")  # type: ignore[arg-type]

    @pytest.mark.parametrize("command", ["", "/a", "a/", "a//b", "a/#", "+"])
    def test_bad_request_command(self, command: str) -> None:
        """A request topic is only built for a well-formed command name."""
        with pytest.raises(ValueError, match="command"):
            Topics().request(command)

    def test_publishable(self) -> None:
        """Wildcards, NUL and the empty string cannot be published to."""
        expected = [True, False, False, False, False]
        actual = [is_publishable_topic(t) for t in ("a/b", "a/+", "#", "", "a\x00")]
        assert expected == actual


class TestCommandOf:
    @pytest.mark.parametrize(
        ("topic", "expected"),
        [
            ("energyd/request/ping", "ping"),
            ("energyd/request/providers/status", "providers/status"),
            ("energyd/request/", None),
            ("energyd/response/ping", None),
            ("energyd/requestping", None),
            ("other/request/ping", None),
            ("energyd-2/request/ping", None),
        ],
    )
    def test_command_of(self, topic: str, expected: str | None) -> None:
        """Only topics under <base>/request/ name a command."""
        assert expected == Topics("energyd").command_of(topic)

    def test_round_trip(self) -> None:
        """command_of undoes request."""
        topics = Topics("a/b")
        assert "x/y" == topics.command_of(topics.request("x/y"))


class TestReplyTopicRefusal:
    @pytest.mark.parametrize(
        "topic",
        [
            "energyd/prices/octopus_agile/C/current",
            "energyd/status",
            "energyd/providers",
            "energyd/settings",
            "energyd/request/health",
            "energyd",
            "homeassistant/sensor/x/config",
            "homeassistant",
            "$SYS/broker/uptime",
            "my/+/replies",
            "my/#",
        ],
    )
    def test_refused(self, topic: str) -> None:
        """energyd's own state, its requests, discovery, $-topics and wildcards are refused."""
        assert Topics("energyd").reply_topic_refusal(topic, "homeassistant") is not None

    @pytest.mark.parametrize(
        "topic",
        ["my/replies", "energyd/response/health", "energyd/response/x/y", "energyd-2/x", "home"],
    )
    def test_allowed(self, topic: str) -> None:
        """Replies may go to <base>/response/... and to any topic outside both trees."""
        assert Topics("energyd").reply_topic_refusal(topic, "homeassistant") is None
