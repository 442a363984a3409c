"""The application layer: one operation per use case, its argument model and one error table,
served alike by the MQTT commands, the HTTP routes and the command line (transport-free).

- :mod:`energyd.api.operations`  :class:`Operations`, one async method per operation
- :mod:`energyd.api.arguments`   the argument models and their limits (``MAX_WINDOW``, ``Moment``)
- :mod:`energyd.api.errors`      :class:`ErrorCode`, exception -> code, code -> HTTP status
- :mod:`energyd.api.health`      the one definition of healthy (``health`` and ``/readyz``)
- :mod:`energyd.api.figures`     :class:`FigureSource`, the derived figures of a provider
- :mod:`energyd.api.windows`     :class:`StandingWindows`, the standing windows and stickiness
- :mod:`energyd.api.ports`       what the layer needs from outside (``BrokerStatus``, ...)
- :mod:`energyd.api.derived`     the derived payloads, laid out (pure)
- :mod:`energyd.api.shapes`      the shapes of the published payloads (TypedDicts)
- :mod:`energyd.api.replies`     the shapes of the operations' replies (TypedDicts)
"""

from energyd.api.errors import ErrorCode, http_status, to_command_error
from energyd.api.figures import FigureSource
from energyd.api.health import Assessment, Check, assess
from energyd.api.operations import Operations
from energyd.api.ports import BrokerCounters, BrokerStatus, FiguresSource
from energyd.api.windows import StandingWindows

__all__ = [
    "Assessment",
    "BrokerCounters",
    "BrokerStatus",
    "Check",
    "ErrorCode",
    "FigureSource",
    "FiguresSource",
    "Operations",
    "StandingWindows",
    "assess",
    "http_status",
    "to_command_error",
]
