"""The check phases of ``scripts/check-home-assistant``: states, actions, offline, log.

Each phase prints ok/FAIL (and note) lines and exits 1 when a line is a FAIL:

- states: devices, entities and states match energyd; the entity ids the README names are
  Home Assistant's; the recorder has the current price; energyd connected with its default
  client id (``energyd-<instance>``) and re-sent its configs on Home Assistant's birth message;
- actions: "Refresh prices" pressed and region "J: South Eastern England" chosen in Home
  Assistant reach energyd (which is sent the bare code J), and Home Assistant follows;
- offline (energyd stopped): all energyd's entities are unavailable;
- log: Home Assistant logged no warning or error about energyd's entities.

Entities are found by their unique ids (``energyd_<instance>_...``) in the entity registry:
Home Assistant makes their entity ids from the device and entity names.

Usage: ``python -m checks.home_assistant.check PHASE --run DIR --mqtt-port N --ha-port N
--http-port N [--timeout SECONDS]``. Standard library only.
"""

import argparse
import re
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from .expectations import (
    DAEMON,
    INSTANCE,
    Result,
    compare,
    device_of,
    named_entity_ids,
    region_option,
)
from .sources import Sources
from .values import number

BAD_LOG = re.compile(
    r"mqtt|energyd|sensor|template|discovery|unit|device_class|state_class", re.IGNORECASE
)
START = {"octopus_agile": "C", "octopus_agile_export": "C"}  # the regions of energyd.toml
AGILE = device_of("octopus_agile")  # its device's identifier, its unique ids' start


# -- waiting -----------------------------------------------------------------------------------
def settle(sources: Sources, timeout: float, what: str, regions: Mapping[str, str]) -> bool:
    """Compare until everything matches or ``timeout`` passes; print the last round."""
    deadline = time.monotonic() + timeout
    while True:
        results: list[Result]
        try:
            results = compare(sources, regions)
        except (OSError, ValueError, KeyError) as exc:  # HA or a registry file mid-write
            results = [(False, f"reading Home Assistant: {exc!r}")]
        if all(ok for ok, _ in results) or time.monotonic() > deadline:
            break
        time.sleep(2)
    failed = [line for ok, line in results if not ok]
    for line in failed:
        print(f"FAIL {line}")
    print(f"{what}: {len(results) - len(failed)} of {len(results)} checks passed")
    return not failed


def wait(what: str, predicate: Callable[[], object], seconds: float) -> bool:
    """Poll ``predicate`` every second for up to ``seconds``; print ok or FAIL ``what``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                print(f"ok   {what}")
                return True
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(1)
    print(f"FAIL {what} (waited {seconds:.0f}s)")
    return False


# -- phases ------------------------------------------------------------------------------------
def phase_states(sources: Sources, timeout: float) -> bool:
    ok = settle(sources, timeout, "devices, entities, states", START)

    ids = sources.entity_ids()
    for uid, wanted in named_entity_ids(START).items():
        named = ids.get(uid) == wanted
        print(
            f"{'ok  ' if named else 'FAIL'} {uid} is {wanted}, as the README names it "
            f"(HA: {ids.get(uid)})"
        )
        ok &= named

    def recorded() -> bool:
        price = sources.retained("energyd/prices/octopus_agile/C/current")[
            "energyd/prices/octopus_agile/C/current"
        ]["price_major"]
        database = sqlite3.connect(
            f"file:{sources.run}/config/home-assistant_v2.db?mode=ro", uri=True
        )
        rows = database.execute(
            "SELECT s.state FROM states s JOIN states_meta m ON s.metadata_id = m.metadata_id "
            "WHERE m.entity_id = ?",
            (sources.entity_ids()[f"{AGILE}_current_price"],),
        ).fetchall()
        database.close()
        return any(number(state) == price for (state,) in rows)

    ok &= wait("the recorder has the current price", recorded, timeout)
    ok &= wait(
        f"energyd connected as energyd-{INSTANCE} (the default client id, energyd-<instance>)",
        lambda: f"client_id=energyd-{INSTANCE}" in sources.energyd_log(),
        timeout,
    )
    ok &= wait(
        "energyd re-sent its configs on Home Assistant's birth message",
        lambda: "homeassistant.online" in sources.energyd_log(),
        timeout,
    )
    return ok


def phase_actions(sources: Sources, timeout: float) -> bool:
    ok = True
    start = len(sources.energyd_log())
    ids = sources.entity_ids()
    sources.ha("services/button/press", {"entity_id": ids[f"{AGILE}_refresh"]})
    ok &= wait(
        "Refresh prices pressed in HA: energyd fetched octopus_agile",
        lambda: re.search(
            r"prices\.fetched .*provider=octopus_agile region=C", sources.energyd_log()[start:]
        ),
        timeout,
    )
    start = len(sources.energyd_log())
    sources.ha(
        "services/select/select_option",
        {"entity_id": ids[f"{AGILE}_region"], "option": region_option("J")},
    )
    ok &= wait(
        f"region {region_option('J')!r} chosen in HA: energyd fetched J",
        lambda: re.search(
            r"prices\.fetched .*provider=octopus_agile region=J", sources.energyd_log()[start:]
        ),
        timeout,
    )
    ok &= wait(
        "energyd publishes J and no longer C",
        lambda: (
            "energyd/prices/octopus_agile/J/current" in (messages := sources.retained())
            and "energyd/prices/octopus_agile/C/current" not in messages
        ),
        timeout,
    )
    ok &= settle(
        sources,
        timeout,
        "after the region change",
        {**START, "octopus_agile": "J"},
    )
    return ok


def phase_offline(sources: Sources, timeout: float) -> bool:
    def all_unavailable() -> bool:
        states = sources.ha_states()
        ours = [e for uid, e in sources.entity_ids().items() if uid.startswith(f"{DAEMON}_")]
        return bool(ours) and all(states.get(e, {}).get("state") == "unavailable" for e in ours)

    return wait("energyd stopped: all its entities unavailable", all_unavailable, timeout)


def phase_log(sources: Sources, timeout: float) -> bool:
    bad: list[str] = []
    other: list[str] = []
    for path in sorted(sources.run.glob("home-assistant.log*")):
        for line in path.read_text(errors="replace").splitlines():
            if re.match(r"^\S+ \S+ (WARNING|ERROR|CRITICAL) ", line):
                (bad if BAD_LOG.search(line) else other).append(line)
    for line in bad:
        print(f"FAIL {line}")
    for line in other:
        print(f"note {line}")
    for line in sources.energyd_log().splitlines():
        if re.search(r"\[(warning|error|critical)", line):
            print(f"note energyd: {line}")
    print(f"Home Assistant log: {len(bad)} warnings/errors about energyd's entities")
    return not bad


PHASES: dict[str, Callable[[Sources, float], bool]] = {
    "states": phase_states,
    "actions": phase_actions,
    "offline": phase_offline,
    "log": phase_log,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m checks.home_assistant.check",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("phase", choices=list(PHASES))
    parser.add_argument(
        "--run",
        type=Path,
        required=True,
        help="the run directory: config/, token, energyd.log, home-assistant.log",
    )
    parser.add_argument("--mqtt-port", type=int, required=True, help="mosquitto on 127.0.0.1")
    parser.add_argument("--ha-port", type=int, required=True, help="Home Assistant on 127.0.0.1")
    parser.add_argument(
        "--http-port", type=int, required=True, help="energyd's HTTP server on 127.0.0.1"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds for states to settle and for each wait (default 60)",
    )
    args = parser.parse_args(argv)
    sources = Sources.of_run(args.run, args.mqtt_port, args.ha_port, args.http_port)
    return 0 if PHASES[args.phase](sources, args.timeout) else 1


if __name__ == "__main__":
    raise SystemExit(main())
