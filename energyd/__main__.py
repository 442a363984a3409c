"""``python -m energyd``: the same as the ``energyd`` command."""

from energyd.cli import main

raise SystemExit(main())
