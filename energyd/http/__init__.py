"""The HTTP server: management API, settings, prices, health, metrics and the status page.

- :mod:`energyd.http.server`   :func:`make_http_app` and :class:`HttpServer` (lifecycle)
- :mod:`energyd.http.routes`   the endpoints: route -> (parser, operation of energyd.api)
- :mod:`energyd.http.auth`     who may change state (pure decision from host and token)
- :mod:`energyd.http.errors`   JSON error replies for everything, never a stack trace
- :mod:`energyd.http.params`   query and body into the argument models (pure)
- :mod:`energyd.http.metrics`  ``/metrics`` in the Prometheus text format

The page itself is ``energyd/web/status.html`` (package data, no external assets).
"""

from energyd.http.auth import WritePolicy, authorize, is_loopback, write_policy
from energyd.http.routes import ACTOR
from energyd.http.server import MAX_BODY_BYTES, HttpServer, make_http_app

__all__ = [
    "ACTOR",
    "MAX_BODY_BYTES",
    "HttpServer",
    "WritePolicy",
    "authorize",
    "is_loopback",
    "make_http_app",
    "write_policy",
]
