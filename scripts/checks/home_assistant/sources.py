"""Where the Home Assistant check reads from.

Home Assistant's REST API and its entity and device registries (``.storage``), energyd's
retained MQTT topics (through ``mosquitto_sub``), energyd's log and the address of its status
page, all of one run directory.
"""

import json
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self


@dataclass(frozen=True)
class Sources:
    """One run of ``scripts/check-home-assistant``: its directory ($RUN) and loopback ports."""

    run: Path
    mqtt_port: int
    ha_port: int
    http_port: int  # energyd's HTTP server (status page) on 127.0.0.1
    token: str  # a long-lived access token for Home Assistant's REST API

    @classmethod
    def of_run(cls, run: Path, mqtt_port: int, ha_port: int, http_port: int) -> Self:
        """The run in ``run``, with the token that ``configure`` left in ``run/token``."""
        return cls(run, mqtt_port, ha_port, http_port, (run / "token").read_text().strip())

    @property
    def storage(self) -> Path:
        return self.run / "config" / ".storage"

    @property
    def status_page(self) -> str:
        """energyd's status page: every device's ``configuration_url`` (*Visit*)."""
        return f"http://127.0.0.1:{self.http_port}/"

    def ha(self, path: str, body: object = None) -> Any:
        """Home Assistant's REST API at ``/api/path``: GET, or POST ``body`` as JSON."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.ha_port}/api/{path}",
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def ha_states(self) -> dict[str, Any]:
        """Entity id -> state object, of every entity Home Assistant has."""
        return {s["entity_id"]: s for s in self.ha("states")}

    def retained(self, pattern: str = "energyd/#") -> dict[str, Any]:
        """Topic -> decoded payload of every retained message under ``pattern``."""
        out = subprocess.run(
            [
                "mosquitto_sub",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.mqtt_port),
                "-t",
                pattern,
                "-v",
                "--retained-only",
                "-W",
                "2",
            ],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        messages: dict[str, Any] = {}
        for line in out.splitlines():
            topic, _, payload = line.partition(" ")
            try:
                messages[topic] = json.loads(payload)
            except ValueError:
                messages[topic] = payload
        return messages

    def registry(self, name: str) -> Any:
        """The data of Home Assistant's storage file ``name``; ``{}`` while there is none."""
        path = self.storage / name
        return json.loads(path.read_text())["data"] if path.exists() else {}

    def entity_ids(self) -> dict[str, str]:
        """Unique id -> the entity id Home Assistant gave it, of every MQTT entity registered
        (Home Assistant makes entity ids from device and entity names: look them up)."""
        entries = self.registry("core.entity_registry").get("entities", [])
        return {e["unique_id"]: e["entity_id"] for e in entries if e["platform"] == "mqtt"}

    def energyd_log(self) -> str:
        return (self.run / "energyd.log").read_text(errors="replace")
