"""The installed package carries the bundled plugins and the CLI entry point."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_bundled_plugins(tmp_path: Path) -> None:
    """A built wheel holds every bundled *_provider.py under energyd/bundled/providers/energy."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--wheel-dir",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        timeout=120,
    )
    (wheel,) = tmp_path.glob("energyd-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    bundled = sorted(
        p.name for p in (ROOT / "bundled_config/providers/energy").glob("*_provider.py")
    )
    assert bundled, "no bundled plugins in the repository"
    assert {f"energyd/bundled/providers/energy/{name}" for name in bundled} <= names
    assert any(name.endswith("entry_points.txt") for name in names)
    assert "energyd/web/status.html" in names
