"""Broken plugin files for the fault tests, each breaking the v1 contract in one way.

``<name>_provider.py`` provides ``<name>``; configure it as ``energy.providers.<key>`` with
``plugin = "<name>"``. The garbage plugin answers what its ``garbage`` config key names.
"""

from __future__ import annotations

import textwrap

from tests.support.plugin_files import SYNTAX_ERROR

__all__ = ["BLOCK_SECONDS", "GARBAGE_KINDS", "PLUGINS"]

BLOCK_SECONDS = 1.5

_HEAD = '''\
"""Fault-test plugin {name}."""

import asyncio
import math
import time
from datetime import timedelta

from providers.energy.base import EnergyPriceProvider, EnergyPriceSlot, EnergyProviderMetadata

__version__ = "0.0.1"

HALF_HOUR = timedelta(minutes=30)


def half_hours(start, end, price=10.0):
    slots = []
    moment = start
    while moment < end:
        slots.append(EnergyPriceSlot(moment, moment + HALF_HOUR, price))
        moment += HALF_HOUR
    return slots


class Provider(EnergyPriceProvider):
    def get_metadata(self):
        return EnergyProviderMetadata(
            provider_id="{name}", display_name="{name}", version=__version__
        )

    def validate_config(self, config):
        return {{}}

    async def fetch_prices(self, region, start_utc, end_utc, config):
'''


def _plugin(name: str, body: str) -> str:
    return _HEAD.format(name=name) + textwrap.indent(textwrap.dedent(body), " " * 8)


GARBAGE_KINDS = ("naive", "nan", "string", "five_seconds", "overlap")

_GARBAGE = """\
slots = half_hours(start_utc, end_utc)
kind = config["garbage"]
third = slots[3]
if kind == "naive":
    naive = third.valid_from.replace(tzinfo=None)
    slots[3] = EnergyPriceSlot(naive, naive + HALF_HOUR, 10.0)
elif kind == "nan":
    slots[3] = EnergyPriceSlot(third.valid_from, third.valid_to, math.nan)
elif kind == "string":
    slots[3] = EnergyPriceSlot(third.valid_from, third.valid_to, "12.5")
elif kind == "five_seconds":
    step = timedelta(seconds=5)
    slots = [
        EnergyPriceSlot(start_utc + step * n, start_utc + step * (n + 1), 10.0)
        for n in range(48)
    ]
elif kind == "overlap":
    slots[3] = EnergyPriceSlot(
        third.valid_from - timedelta(minutes=10), third.valid_to, 10.0
    )
return slots
"""

#: file name -> source
PLUGINS = {
    "syntax_error_provider.py": SYNTAX_ERROR,
    "import_raises_provider.py": (
        '"""Raises while it is imported."""\n\n__version__ = "0.0.1"\n\n'
        'raise RuntimeError("import_raises exploded at import")\n'
    ),
    "hang_provider.py": _plugin("hang", "await asyncio.sleep(3600)\n"),
    "blocking_provider.py": _plugin(
        "blocking",
        f"time.sleep({BLOCK_SECONDS})  # holds the event loop\n"
        "return half_hours(start_utc, end_utc)\n",
    ),
    "garbage_provider.py": _plugin("garbage", _GARBAGE),
}
