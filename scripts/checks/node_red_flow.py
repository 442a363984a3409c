"""The copy of examples/node-red/flow.json that ``scripts/check-node-red`` runs.

The copy's broker node points at the check's mosquitto, its debug nodes also print to
Node-RED's log, and it gets one extra node pair: a status node and a debug node logging
"node name: status text" on each status change. The flow's own nodes are otherwise unchanged.

Usage: ``python -m checks.node_red_flow SOURCE TARGET MQTT_PORT``.
"""

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

Node = dict[str, Any]


def observed_copy(flow: list[Node], mqtt_port: int) -> list[Node]:
    """``flow`` (changed in place) for a broker on 127.0.0.1:``mqtt_port``, debug to the log."""
    for node in flow:
        if node["type"] == "mqtt-broker":
            # Node-RED keeps a broker's port as a string, as the example does.
            node["broker"], node["port"] = "127.0.0.1", str(mqtt_port)
        if node["type"] == "debug":
            node["console"] = True
    tab = next(node["id"] for node in flow if node["type"] == "tab")
    flow += [  # observation only: one log line "node name: status text" per status change
        {
            "id": "check_status",
            "type": "status",
            "z": tab,
            "name": "check: status",
            "scope": None,
            "x": 150,
            "y": 420,
            "wires": [["check_status_log"]],
        },
        {
            "id": "check_status_log",
            "type": "debug",
            "z": tab,
            "name": "status",
            "active": True,
            "tosidebar": False,
            "console": True,
            "targetType": "jsonata",
            "complete": 'status.source.name & ": " & status.text',
            "x": 370,
            "y": 420,
            "wires": [],
        },
    ]
    return flow


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m checks.node_red_flow",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("source", type=Path, help="the example flow (JSON)")
    parser.add_argument("target", type=Path, help="where the copy goes (JSON)")
    parser.add_argument("mqtt_port", type=int, help="the check's mosquitto port on 127.0.0.1")
    args = parser.parse_args(argv)
    flow = json.loads(args.source.read_text(encoding="utf-8"))
    args.target.write_text(
        json.dumps(observed_copy(flow, args.mqtt_port), indent=2), encoding="utf-8"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
