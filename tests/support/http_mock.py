"""aioresponses, working with aiohttp 3.14.

aiohttp 3.14 made ``stream_writer`` a required ``ClientResponse`` argument and aioresponses
0.7.9 (the latest release) does not pass it (pnuckowski/aioresponses#289). The shim lives in
the plugin kit's testing module (plugins' own tests need it too, without our tests/ package);
this name stays for the tests that use it. Drop both once aioresponses handles it.
"""

from __future__ import annotations

from energyd.providers.kit.testing import aioresponses_class

__all__ = ["CompatAioresponses"]

#: aioresponses whose canned responses are built with a ClientResponse that works on 3.14.
CompatAioresponses = aioresponses_class()
