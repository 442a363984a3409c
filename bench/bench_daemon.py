"""The whole daemon on loopback: start-up, memory, publishing and command round trips.

Starts its own mosquitto on a free 127.0.0.1 port and the fake Octopus API, runs the daemon
in-process with two providers (Agile import and export) and two standing windows, then prints:

- time from start to the first ``current`` price on MQTT, and peak RSS;
- how long re-publishing every retained topic takes (``publish_all``) and how many topics;
- the round trip of N ``health`` and ``cheapest`` requests (QoS 1, one client), median / p95.

Run: ``.venv/bin/python bench/bench_daemon.py [--requests 200]``. Bounded in count and time;
loopback only. Figures vary 20-30 % on a shared machine: compare within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from energyd.log import configure_logging
from tests.support.broker import MosquittoBroker, collect, find_mosquitto
from tests.support.daemon import daemon_settings, running
from tests.support.fake_octopus import serve


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return f"median {statistics.median(ordered) * 1000:7.2f} ms   p95 {p95 * 1000:7.2f} ms"


async def bench(requests: int) -> None:
    binary = find_mosquitto()
    if binary is None:
        sys.exit("mosquitto is needed: apt-get install mosquitto")
    configure_logging("warning", "json")
    with tempfile.TemporaryDirectory() as tmp:
        broker = MosquittoBroker(binary, Path(tmp) / "mosquitto")
        broker.start()
        try:
            async with serve() as api:
                base = "bench"
                settings = daemon_settings(
                    Path(tmp),
                    broker.port,
                    base,
                    api.url,
                    energy={
                        "providers": {
                            "octopus_agile": {"region": "C", "base_url": api.url},
                            "octopus_agile_export": {
                                "plugin": "octopus_agile",
                                "direction": "export",
                                "region": "C",
                                "base_url": api.url,
                            },
                        }
                    },
                    prices={
                        "windows": [
                            {
                                "name": "overnight",
                                "minutes": 180,
                                "earliest": "00:00",
                                "latest": "07:00",
                            },
                            {"name": "scattered", "minutes": 120, "contiguous": False},
                        ]
                    },
                )
                current = f"{base}/prices/octopus_agile/C/current"
                async with collect(broker.port, f"{base}/#") as client:
                    started = time.perf_counter()
                    async with running(settings):
                        await client.wait_for(
                            current, lambda m: json.loads(m.payload)["available"], within=30
                        )
                        first = time.perf_counter() - started
                        await asyncio.sleep(1.0)  # let the export provider settle too
                        topics = {m.topic.value for m in client.messages}
                        print(f"first current price after   {first * 1000:8.1f} ms")
                        print(f"topics published            {len(topics):8d}")
                        for command, body in (
                            ("health", {}),
                            ("cheapest", {"minutes": 180}),
                        ):
                            times = []
                            for n in range(requests):
                                marker = f"{command}-{n}"
                                sent = time.perf_counter()
                                await client.publish(
                                    f"{base}/request/{command}",
                                    json.dumps({**body, "transaction": marker}),
                                )
                                await client.wait_for(
                                    f"{base}/response/{command}",
                                    lambda m, t=marker: (
                                        json.loads(m.payload).get("transaction") == t
                                    ),
                                )
                                times.append(time.perf_counter() - sent)
                            print(f"{command:<12} round trip x{requests:<4} {_ms(times)}")
                        refresh = []
                        for n in range(min(requests, 50)):
                            marker = f"refresh-{n}"
                            sent = time.perf_counter()
                            await client.publish(
                                f"{base}/request/refresh", json.dumps({"transaction": marker})
                            )
                            await client.wait_for(
                                f"{base}/response/refresh",
                                lambda m, t=marker: json.loads(m.payload).get("transaction") == t,
                                within=30,
                            )
                            refresh.append(time.perf_counter() - sent)
                        print(
                            f"{'refresh':<12} (2 fetches + publish) x{len(refresh):<3} "
                            f"{_ms(refresh)}"
                        )
        finally:
            broker.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS (daemon + test client in one process) {peak:6.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per command (200)")
    args = parser.parse_args()
    asyncio.run(bench(max(1, min(args.requests, 2000))))


if __name__ == "__main__":
    main()
