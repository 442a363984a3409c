"""``python -m energyd``: the same as the ``energyd`` command (:func:`energyd.cli.main`).

The cyclic garbage collector is off while the modules load: its passes over every new object
cost a tenth of the start-up and free next to nothing then. :func:`energyd.cli.main` switches
it on again once start-up is over. The `energyd` console script calls :func:`run` too.
"""

import gc

gc.disable()

from energyd.cli import main  # noqa: E402 - after the collector is off


def run() -> int:
    """:func:`energyd.cli.main` with the process's arguments."""
    return main()


if __name__ == "__main__":
    raise SystemExit(run())
