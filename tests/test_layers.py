"""The layers of the package (README "Architecture"): every import runs downwards.

domain (pure) <- providers (contract, kit, loader) <- core <- api <- mqtt, http <- app, cli.
A few leaf modules (exceptions, config, strictjson, log, notify) sit beside the layers; what
each of them may import is listed too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "energyd"

#: What each part may import from energyd (besides itself).
ALLOWED: dict[str, frozenset[str]] = {
    "domain": frozenset(),
    "exceptions": frozenset(),
    "strictjson": frozenset(),
    "log": frozenset(),
    "notify": frozenset(),
    "config": frozenset({"domain", "exceptions"}),
    "providers": frozenset({"domain", "exceptions", "strictjson"}),
    "core": frozenset({"domain", "providers", "exceptions", "config", "strictjson"}),
    "api": frozenset({"core", "domain", "providers", "exceptions", "config", "strictjson"}),
    "mqtt": frozenset({"api", "core", "domain", "providers", "exceptions", "config", "strictjson"}),
    "http": frozenset({"api", "core", "domain", "providers", "exceptions", "config", "strictjson"}),
}


def part_of(module: str) -> str:
    """``energyd.core.store`` -> ``core``; ``energyd.app`` -> ``app``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imports_of(path: Path) -> set[str]:
    """Every ``energyd...`` module this file imports (also inside functions)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("energyd."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "energyd":
                found.update(f"energyd.{alias.name}" for alias in node.names)
            elif node.module.startswith("energyd."):
                found.add(node.module)
    return found


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        dotted = ".".join(("energyd", *path.relative_to(PACKAGE).with_suffix("").parts))
        found.append((dotted.removesuffix(".__init__"), path))
    return found


class TestLayers:
    @pytest.mark.parametrize(("module", "path"), modules(), ids=[m for m, _ in modules()])
    def test_imports_run_downwards(self, module: str, path: Path) -> None:
        """A module imports only its own part and the parts below it."""
        part = part_of(module)
        if part not in ALLOWED:  # app, cli, __main__, the package itself: the top
            return
        upward = sorted(
            target
            for target in imports_of(path)
            if part_of(target) not in {part, *ALLOWED[part]}
            and target not in {"energyd", "energyd.__version__"}
        )
        assert [] == upward

    def test_every_part_is_placed(self) -> None:
        """A new top-level module or package must be given its place above."""
        top = {"", "app", "cli", "__main__"}
        assert set() == {part_of(m) for m, _ in modules()} - set(ALLOWED) - top
