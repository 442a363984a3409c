"""Import paths the v1 contract documents for plugins.

The written contract has plugins import ``providers.energy.base`` (and the original
application exposed it as ``app.providers.energy.base``). Rather than ship a top-level
``providers`` package into site-packages, the loader registers those names as aliases of
:mod:`energyd.providers.base` in ``sys.modules`` before it imports any plugin. A real package
of the same name that is already imported is left alone.
"""

from __future__ import annotations

import sys
import types

from energyd.providers import base

__all__ = ["ALIASES", "install_import_aliases"]

ALIASES = ("providers.energy.base", "app.providers.energy.base")


def install_import_aliases() -> None:
    """Make ``import providers.energy.base`` (and the ``app.`` form) yield our base module."""
    for dotted in ALIASES:
        parts = dotted.split(".")
        if dotted in sys.modules:
            continue
        parent: types.ModuleType | None = None
        for depth in range(1, len(parts)):
            name = ".".join(parts[:depth])
            module = sys.modules.get(name)
            if module is None:
                module = types.ModuleType(name, f"energyd alias package for plugins ({name})")
                module.__path__ = []
                sys.modules[name] = module
            if parent is not None:
                setattr(parent, parts[depth - 1], module)
            parent = module
        sys.modules[dotted] = base
        if parent is not None:
            setattr(parent, parts[-1], base)
