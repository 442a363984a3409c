"""The check phases of ``scripts/check-home-assistant``: states, actions, offline, log.

Each phase prints ok/FAIL (and note) lines and exits 1 when a line is a FAIL:

- states: devices, entities and states match energyd; the recorder has the current price;
  energyd re-sent its configs on Home Assistant's birth message;
- actions: "Refresh prices" pressed and region J chosen in Home Assistant reach energyd, and
  Home Assistant follows;
- offline (energyd stopped): all energyd's entities are unavailable;
- log: Home Assistant logged no warning or error about energyd's entities.

Usage: ``python -m checks.home_assistant.check PHASE --run DIR --mqtt-port N --ha-port N
[--timeout SECONDS]``. Standard library only.
"""

import argparse
import re
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from .expectations import Result, compare
from .sources import Sources
from .values import number

BAD_LOG = re.compile(
    r"mqtt|energyd|sensor|template|discovery|unit|device_class|state_class", re.IGNORECASE
)


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
    ok = settle(
        sources,
        timeout,
        "devices, entities, states",
        {"octopus_agile": "C", "octopus_agile_export": "C"},
    )

    def recorded() -> bool:
        price = sources.retained("energyd/prices/octopus_agile/C/current")[
            "energyd/prices/octopus_agile/C/current"
        ]["price_major"]
        database = sqlite3.connect(
            f"file:{sources.run}/config/home-assistant_v2.db?mode=ro", uri=True
        )
        rows = database.execute(
            "SELECT s.state FROM states s JOIN states_meta m ON s.metadata_id = m.metadata_id "
            "WHERE m.entity_id = 'sensor.energyd_octopus_agile_current_price'"
        ).fetchall()
        database.close()
        return any(number(state) == price for (state,) in rows)

    ok &= wait("the recorder has the current price", recorded, timeout)
    ok &= wait(
        "energyd re-sent its configs on Home Assistant's birth message",
        lambda: "homeassistant.online" in sources.energyd_log(),
        timeout,
    )
    return ok


def phase_actions(sources: Sources, timeout: float) -> bool:
    ok = True
    start = len(sources.energyd_log())
    sources.ha(
        "services/button/press", {"entity_id": "button.energyd_octopus_agile_refresh_prices"}
    )
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
        {"entity_id": "select.energyd_octopus_agile_region", "option": "J"},
    )
    ok &= wait(
        "region J chosen in HA: energyd fetched J",
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
        {"octopus_agile": "J", "octopus_agile_export": "C"},
    )
    return ok


def phase_offline(sources: Sources, timeout: float) -> bool:
    def all_unavailable() -> bool:
        ours = [s for e, s in sources.ha_states().items() if ".energyd_" in e]
        return bool(ours) and all(s["state"] == "unavailable" for s in ours)

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
        "--timeout",
        type=float,
        default=60.0,
        help="seconds for states to settle and for each wait (default 60)",
    )
    args = parser.parse_args(argv)
    sources = Sources.of_run(args.run, args.mqtt_port, args.ha_port)
    return 0 if PHASES[args.phase](sources, args.timeout) else 1


if __name__ == "__main__":
    raise SystemExit(main())
