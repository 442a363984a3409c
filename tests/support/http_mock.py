"""aioresponses, working with aiohttp 3.14.

aiohttp 3.14 made ``stream_writer`` a required ``ClientResponse`` argument and aioresponses
0.7.9 (the latest release) does not pass it (pnuckowski/aioresponses#289). The subclass below
builds canned responses with a response class that supplies it; on older aiohttp it changes
nothing. Drop this module once aioresponses handles it.
"""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any

import aiohttp
from aioresponses import aioresponses
from yarl import URL

__all__ = ["CompatAioresponses"]


class _CompatResponse(aiohttp.ClientResponse):
    """aiohttp 3.14 made ``stream_writer`` a required ClientResponse argument; aioresponses
    0.7.9 (the latest release) does not pass it (pnuckowski/aioresponses#289)."""

    def __init__(self, method: str, url: URL, **kwargs: Any) -> None:
        if _NEEDS_STREAM_WRITER:
            kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(method, url, **kwargs)


_NEEDS_STREAM_WRITER = "stream_writer" in inspect.signature(aiohttp.ClientResponse).parameters


class CompatAioresponses(aioresponses):
    """aioresponses whose canned responses are built with :class:`_CompatResponse`."""

    def add(self, url: Any, method: str = "GET", **kwargs: Any) -> None:
        if kwargs.get("response_class") is None:
            kwargs["response_class"] = _CompatResponse
        super().add(url, method, **kwargs)
