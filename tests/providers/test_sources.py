"""A plugin's facts and code kept on disk between runs: a second start parses nothing, and
whatever does not match the file exactly -- an edit, a damaged entry, another path or an
unwritable folder -- is worked out again, never run in its place."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from energyd.domain.records import PluginState
from energyd.providers.loader import (
    EnergyProviderLoader,
    code_cache_dir,
    init_energy_provider_loader,
)
from energyd.providers.sources import NOT_LITERAL, PluginSources, StaticFacts
from tests.support.plugin_files import good_plugin, kit_plugin, snapshot_tree, write_plugin


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def started(config_dir: Path, bundled: Path, cache: Path) -> EnergyProviderLoader:
    """A loader as a new daemon process has one: nothing in memory, the cache on disk."""
    loader = EnergyProviderLoader(config_dir, bundled, code_cache=cache)
    loader.load_all()
    return loader


def entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("*.bin"))


def price_of(loader: EnergyProviderLoader, provider_id: str) -> object:
    return loader.get(provider_id).get_metadata().version


class TestASecondStart:
    def test_parses_nothing_and_runs_the_same_code(
        self, config_dir: Path, bundled: Path, deployed: Path, cache: Path, parsed: list[str]
    ) -> None:
        """The first start works each file out once and keeps it; the next reads it back."""
        write_plugin(deployed, "a_provider.py", good_plugin("a", "1.2.0"))
        write_plugin(deployed, "k_provider.py", kit_plugin("k", 2))
        first = started(config_dir, bundled, cache)
        assert 2 == len(entries(cache))
        assert 2 == len(parsed)
        parsed.clear()
        second = started(config_dir, bundled, cache)
        assert [] == parsed
        assert set(first.providers) == set(second.providers) == {"a", "k"}
        assert "1.2.0" == price_of(second, "a")
        assert 2 == next(s.kit for s in second.status() if s.file == "k_provider.py")

    def test_code_names_the_file_it_runs_from(
        self, config_dir: Path, bundled: Path, deployed: Path, cache: Path
    ) -> None:
        """Tracebacks of cached code point at the deployed file itself."""
        path = write_plugin(deployed, "a_provider.py", good_plugin("a"))
        started(config_dir, bundled, cache)
        facts, _, code = PluginSources(cache).load(path)
        assert code is not None
        assert str(path) == code.co_filename
        assert StaticFacts("1.0.0", None) == facts

    def test_daemon_loader_keeps_its_cache_in_the_config_dir(
        self, config_dir: Path, bundled: Path
    ) -> None:
        """``init_energy_provider_loader`` deploys and caches; without deploying (checking
        a config) it writes nothing at all."""
        write_plugin(bundled, "a_provider.py", good_plugin("a"))
        config_dir.mkdir()
        before = snapshot_tree(config_dir)
        init_energy_provider_loader(config_dir, bundled, deploy=False)
        assert before == snapshot_tree(config_dir)
        init_energy_provider_loader(config_dir, bundled)
        assert 1 == len(entries(code_cache_dir(config_dir)))


class TestNothingStaleRuns:
    def test_an_edit_in_place_with_the_time_put_back(
        self, config_dir: Path, bundled: Path, deployed: Path, cache: Path
    ) -> None:
        """Same size, same inode, modification time restored: the new content runs."""
        path = write_plugin(deployed, "a_provider.py", good_plugin("a", "1.0.0"))
        started(config_dir, bundled, cache)
        before = path.stat()
        path.write_text(path.read_text().replace('"1.0.0"', '"1.0.9"'))
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert (before.st_size, before.st_mtime_ns) == (
            path.stat().st_size,
            path.stat().st_mtime_ns,
        )
        assert "1.0.9" == price_of(started(config_dir, bundled, cache), "a")

    @pytest.mark.parametrize(
        "damage",
        [
            lambda data: b"",
            lambda data: data[:-40],
            lambda data: data[:-1] + bytes([data[-1] ^ 1]),
            lambda data: b"not a cache entry at all" + data,
            lambda data: data[:20] + b"\xff" * 8 + data[28:],
        ],
        ids=["empty", "truncated", "one-bit-flipped", "foreign", "head-damaged"],
    )
    def test_a_damaged_entry_is_worked_out_again(
        self,
        config_dir: Path,
        bundled: Path,
        deployed: Path,
        cache: Path,
        parsed: list[str],
        damage: object,
    ) -> None:
        """Whatever happened to an entry, the file is parsed again, runs, and the entry is
        whole again afterwards."""
        write_plugin(deployed, "a_provider.py", good_plugin("a", "2.0.0"))
        started(config_dir, bundled, cache)
        (entry,) = entries(cache)
        assert callable(damage)
        entry.write_bytes(damage(entry.read_bytes()))
        parsed.clear()
        assert "2.0.0" == price_of(started(config_dir, bundled, cache), "a")
        assert ["a_provider.py"] == [Path(name).name for name in parsed]
        parsed.clear()
        started(config_dir, bundled, cache)
        assert [] == parsed

    def test_another_path_is_another_entry(
        self, tmp_path: Path, bundled: Path, cache: Path, parsed: list[str]
    ) -> None:
        """A config folder moved (the same content elsewhere) compiles for its new path."""
        for name in ("one", "two"):
            folder = tmp_path / name / "providers" / "energy"
            write_plugin(folder, "a_provider.py", good_plugin("a"))
            started(tmp_path / name, bundled, cache)
        assert 2 == len(entries(cache))
        assert 2 == len(parsed)

    def test_a_file_that_does_not_compile_is_not_kept(
        self, config_dir: Path, bundled: Path, deployed: Path, cache: Path
    ) -> None:
        """A syntax error is the load error it always was, with the version line read."""
        write_plugin(deployed, "b_provider.py", "__version__ = '0.3'\ndef broken(:\n")
        loader = started(config_dir, bundled, cache)
        (entry,) = loader.status()
        assert (PluginState.LOAD_ERROR, "0.3") == (entry.state, entry.deployed_version)
        assert entry.error is not None
        assert entry.error.startswith("SyntaxError")
        assert [] == entries(cache)

    def test_an_unwritable_cache_is_no_cache(
        self, config_dir: Path, bundled: Path, deployed: Path, tmp_path: Path
    ) -> None:
        """A file where the cache folder should be: plugins load, nothing is kept."""
        blocked = tmp_path / "blocked"
        blocked.write_text("a file, not a folder")
        write_plugin(deployed, "a_provider.py", good_plugin("a"))
        for _ in range(2):
            assert {"a"} == set(started(config_dir, bundled, blocked).providers)
        assert "a file, not a folder" == blocked.read_text()


class TestFacts:
    def test_a_computed_kit_is_kept_as_not_a_literal(self, tmp_path: Path, cache: Path) -> None:
        """``REQUIRES_KIT = 1 + 1`` stays an expression through the cache (refused, not 2)."""
        path = write_plugin(tmp_path, "x_provider.py", "REQUIRES_KIT = 1 + 1\n")
        for _ in range(2):
            facts, _, code = PluginSources(cache).load(path)
            assert code is not None
            assert facts.requires_kit is NOT_LITERAL
        assert 1 == len(entries(cache))
