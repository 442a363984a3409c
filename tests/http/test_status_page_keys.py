"""The keys the status page's script reads off each reply are keys of that reply's shape.

The page (``energyd/web/status.html``) is JavaScript, so mypy cannot see what it reads; this
reads the script instead. Each row names a function of the script, a variable in it (or a
key path from one) and the shape it holds; every ``<variable>.<key>`` the function reads
must be a key of that shape, and each row must still read something.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any, get_type_hints

import pytest

from energyd.api import replies, shapes
from energyd.http.routes import HttpInfoReply

#: (function of the script, variable or key path in it, the shape it holds).
READS: list[tuple[str, str, Any]] = [
    ("regionLabel", "p", replies.ProviderOverview),
    ("problemsOf", "health", replies.HealthReply),
    ("problemsOf", "c", replies.CheckJson),
    ("renderSummary", "info", HttpInfoReply),
    ("renderSummary", "overview", replies.OverviewReply),
    ("renderSummary", "health", replies.HealthReply),
    ("renderSummary", "selected", replies.ProviderOverview),
    ("renderSummary", "selected.health", replies.HealthReportJson),
    ("renderBroker", "health", replies.HealthReply),
    ("renderBroker", "broker", replies.BrokerJson),
    ("renderBanner", "overview", replies.OverviewReply),
    ("renderBanner", "health", replies.HealthReply),
    ("renderBanner", "broker", replies.BrokerJson),
    ("renderBanner", "checks.store", replies.CheckJson),
    ("renderBanner", "checks.plugins", replies.CheckJson),
    ("renderBanner", "f", replies.PluginStatusJson),
    ("renderBanner", "p", replies.ProviderOverview),
    ("renderBanner", "h", replies.HealthReportJson),
    ("renderProviderSelect", "info", HttpInfoReply),
    ("renderProviders", "overview", replies.OverviewReply),
    ("renderProviders", "p", replies.ProviderOverview),
    ("renderProviders", "p.health", replies.HealthReportJson),
    ("renderProviders", "block", replies.LoopBlockJson),
    ("renderPlugins", "overview", replies.OverviewReply),
    ("renderPlugins", "p", replies.PluginStatusJson),
    ("renderAudit", "audit", replies.AuditReply),
    ("renderAudit", "r", replies.AuditRecordJson),
    ("levelName", "figures", replies.FiguresReply),
    ("levelName", "level", shapes.LevelPayload),
    ("windowsOf", "figures", replies.FiguresReply),
    ("windowsOf", "w", shapes.WindowPayload),
    ("renderNow", "today", replies.PriceWindowReply),
    ("renderNow", "tomorrow", replies.PriceWindowReply),
    ("renderNow", "s", shapes.SlotJson),
    ("renderNow", "current", shapes.SlotJson),
    ("renderNow", "w", shapes.WindowPayload),
    ("renderDay", "day", replies.PriceWindowReply),
    ("renderDay", "s", shapes.SlotJson),
    ("renderDay", "w", shapes.WindowPayload),
    ("renderDay", "cheapest", shapes.SlotJson),
    ("renderDay", "dearest", shapes.SlotJson),
    ("load", "info", HttpInfoReply),
    ("describeRecord", "record", replies.AuditRecordJson),
    ("describeUpdates", "body", replies.UpdateAllReply),
    ("describeRuns", "body", replies.RefreshReply),
    ("describeRuns", "r", replies.FetchRunJson),
]


def script() -> str:
    page = resources.files("energyd").joinpath("web/status.html").read_text("utf-8")
    (code,) = re.findall(r"<script>(.*?)</script>", page, re.DOTALL)
    return code


def functions(code: str) -> dict[str, str]:
    """Function name -> its text (up to the next top-level function of the script)."""
    starts = list(re.finditer(r"^  (?:async )?function (\w+)\(", code, re.MULTILINE))
    ends = [match.start() for match in starts[1:]] + [len(code)]
    return {
        match.group(1): code[match.start() : end] for match, end in zip(starts, ends, strict=True)
    }


def keys_read(text: str, path: str) -> set[str]:
    """Every ``<path>.<key>`` in ``text`` (``path`` not itself a member of something)."""
    pattern = r"(?<![\w.])" + re.escape(path) + r"\.(\w+)"
    return set(re.findall(pattern, text))


@pytest.mark.parametrize(
    ("function", "path", "shape"), READS, ids=[f"{f}:{p}" for f, p, _ in READS]
)
def test_the_page_reads_keys_of_the_shape(function: str, path: str, shape: Any) -> None:
    text = functions(script())[function]
    read = keys_read(text, path)
    assert read, f"{function} no longer reads {path}.<key>: update READS"
    assert set() == read - set(get_type_hints(shape)), f"{shape.__name__} has no such keys"


def test_the_reader_sees_what_it_should() -> None:
    """The reading itself: a member of something else is not the variable."""
    text = "p.id + state.p.nope + (p.health || {}).x + p.health.state"
    assert ({"id", "health"}, {"state"}) == (keys_read(text, "p"), keys_read(text, "p.health"))
