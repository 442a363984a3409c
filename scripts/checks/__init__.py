"""The Python of the ``scripts/check-*`` integration checks, which run it as ``python -m checks.X``.

``scripts/check-home-assistant`` and ``scripts/check-node-red`` put ``scripts/`` on PYTHONPATH
and run these modules with their own Python: the Home Assistant venv's (3.13) for
``checks.home_assistant``, the project's for the rest. Standard library only, except where a
module says otherwise.
"""
