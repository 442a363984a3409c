"""The loader's status without re-reading files: each plugin file parsed once per content of
it, and every change -- update, deploy, an edit in place, a file added or gone -- still seen."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from energyd.domain.records import PluginState, PluginStatus
from energyd.providers.loader import EnergyProviderLoader
from energyd.providers.sources import PluginSources
from tests.support.plugin_files import good_plugin, kit_plugin, write_plugin


@pytest.fixture
def loader(config_dir: Path, bundled: Path) -> EnergyProviderLoader:
    return EnergyProviderLoader(config_dir, bundled)


def status_of(loader: EnergyProviderLoader, name: str) -> PluginStatus:
    (entry,) = [s for s in loader.status() if s.file == name]
    return entry


def versions(loader: EnergyProviderLoader) -> dict[str, tuple[str, str | None, str | None]]:
    return {s.file: (s.state.value, s.deployed_version, s.bundled_version) for s in loader.status()}


def same_size_edit(path: Path, old: str, new: str) -> None:
    """Rewrite ``path`` in place with ``old`` replaced by ``new`` (as long), then put its
    modification time back: only the change time tells."""
    assert len(old) == len(new)
    before = path.stat()
    text = path.read_text(encoding="utf-8")
    with path.open("r+", encoding="utf-8") as handle:  # the same inode, not a new file
        handle.write(text.replace(old, new))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (before.st_ino, before.st_size, before.st_mtime_ns) == (
        after.st_ino,
        after.st_size,
        after.st_mtime_ns,
    )


class TestParsedOnce:
    def test_status_again_parses_nothing(
        self, loader: EnergyProviderLoader, bundled: Path, deployed: Path, parsed: list[str]
    ) -> None:
        """Once every file was read, later statuses parse none of them again."""
        write_plugin(bundled, "a_provider.py", good_plugin("a", "1.1.0"))
        write_plugin(deployed, "a_provider.py", good_plugin("a", "1.0.0"))
        write_plugin(bundled, "b_provider.py", kit_plugin("b", 2))
        loader.load_all()
        first = versions(loader)
        parsed.clear()
        again = [versions(loader) for _ in range(5)]
        assert [] == parsed
        assert [first] * 5 == again
        assert ("update_available", "1.0.0", "1.1.0") == first["a_provider.py"]

    def test_what_a_status_says_is_the_callers(self, loader: EnergyProviderLoader) -> None:
        """Each call returns a list of its own: changing one changes no later status."""
        write_plugin(loader.deployed_dir, "a_provider.py", good_plugin("a"))
        loader.load_all()
        first = loader.status()
        first.clear()
        assert ["a_provider.py"] == [s.file for s in loader.status()]


class TestChangesSeen:
    def test_update_and_new_bundled_version(
        self, loader: EnergyProviderLoader, bundled: Path, deployed: Path
    ) -> None:
        """A new bundled version shows as an update; after update() the new deployed one."""
        write_plugin(bundled, "a_provider.py", good_plugin("a", "1.0.0"))
        loader.deploy_bundled_if_empty()
        loader.load_all()
        assert ("up_to_date", "1.0.0", "1.0.0") == versions(loader)["a_provider.py"]
        write_plugin(bundled, "a_provider.py", good_plugin("a", "1.2.0"))
        assert ("update_available", "1.0.0", "1.2.0") == versions(loader)["a_provider.py"]
        assert ("1.0.0", "1.2.0") == loader.update("a_provider.py")
        assert ("up_to_date", "1.2.0", "1.2.0") == versions(loader)["a_provider.py"]

    def test_deployed_copy_changed_before_a_reload(
        self, loader: EnergyProviderLoader, deployed: Path
    ) -> None:
        """A local plugin replaced on disk (not loaded yet) shows its new static version; a
        reload shows the loaded one."""
        write_plugin(deployed, "mine_provider.py", good_plugin("mine", "0.1.0"))
        loader.load_all()
        assert "0.1.0" == status_of(loader, "mine_provider.py").deployed_version
        write_plugin(deployed, "mine_provider.py", "__version__ = '0.2.0'\nbroken(\n")
        entry = status_of(loader, "mine_provider.py")
        assert ("0.1.0", PluginState.LOCAL) == (entry.deployed_version, entry.state)
        loader.reload()
        entry = status_of(loader, "mine_provider.py")
        assert ("0.2.0", PluginState.LOAD_ERROR) == (entry.deployed_version, entry.state)

    def test_edit_in_place_with_the_time_put_back(
        self, loader: EnergyProviderLoader, bundled: Path
    ) -> None:
        """The same size, the same inode, the modification time restored: still seen."""
        path = write_plugin(bundled, "a_provider.py", good_plugin("a", "1.0.0"))
        assert ("not_installed", None, "1.0.0") == versions(loader)["a_provider.py"]
        same_size_edit(path, '"1.0.0"', '"1.0.9"')
        assert ("not_installed", None, "1.0.9") == versions(loader)["a_provider.py"]

    def test_files_added_and_removed(self, loader: EnergyProviderLoader, bundled: Path) -> None:
        """A bundled file added shows up, one removed goes."""
        write_plugin(bundled, "a_provider.py", good_plugin("a"))
        assert ["a_provider.py"] == list(versions(loader))
        write_plugin(bundled, "b_provider.py", good_plugin("b", "2.0.0"))
        assert ["a_provider.py", "b_provider.py"] == list(versions(loader))
        (bundled / "a_provider.py").unlink()
        assert {"b_provider.py": ("not_installed", None, "2.0.0")} == versions(loader)

    def test_required_kit_changed(self, loader: EnergyProviderLoader, bundled: Path) -> None:
        """The kit a bundled file needs is read again when the file changes."""
        write_plugin(bundled, "k_provider.py", kit_plugin("k", 1))
        assert 1 == status_of(loader, "k_provider.py").kit
        write_plugin(bundled, "k_provider.py", kit_plugin("k", 2))
        assert 2 == status_of(loader, "k_provider.py").kit


class TestPluginSources:
    def test_unreadable_and_gone(self, tmp_path: Path) -> None:
        """A missing file says nothing; one that appears later is read."""
        sources = PluginSources()
        path = tmp_path / "a_provider.py"
        assert sources.version(path) is None
        write_plugin(tmp_path, "a_provider.py", good_plugin("a", "3.0.0"))
        assert "3.0.0" == sources.version(path)
        path.unlink()
        assert sources.version(path) is None

    def test_bad_kit_still_refused(self, loader: EnergyProviderLoader, deployed: Path) -> None:
        """A REQUIRES_KIT that is no whole number is refused on every load, kept or not."""
        write_plugin(deployed, "k_provider.py", kit_plugin("k", "two"))
        for _ in range(2):
            loader.reload()
            error = status_of(loader, "k_provider.py").error
            assert error is not None
            assert "REQUIRES_KIT must be a whole number >= 1 ('two')" in error

    def test_forget_reads_again_but_parses_new_content_only(
        self, tmp_path: Path, parsed: list[str]
    ) -> None:
        """forget() makes the next read read the file again: the same content is not parsed
        again, a changed one is (and a copy elsewhere with the same content is not)."""
        path = write_plugin(tmp_path, "a_provider.py", good_plugin("a", "1.0.0"))
        sources = PluginSources()
        sources.version(path)
        sources.version(path)
        sources.forget(path)
        assert "1.0.0" == sources.version(path)
        copy = write_plugin(tmp_path / "elsewhere", "a_provider.py", good_plugin("a", "1.0.0"))
        assert "1.0.0" == sources.version(copy)
        write_plugin(tmp_path, "a_provider.py", good_plugin("a", "1.0.1"))
        sources.forget()
        assert "1.0.1" == sources.version(path)
        assert [str(path.name), str(path.name)] == [Path(name).name for name in parsed]
