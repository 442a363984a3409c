"""The plugin loader: deploy, load, status, update, reload."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from energyd.domain.records import PluginState, PluginStatus
from energyd.exceptions import PluginLoadError, PluginNameError, UnknownProviderError
from energyd.providers import base
from energyd.providers.kit.version import KIT_VERSION
from energyd.providers.loader import (
    MODULE_PREFIX,
    EnergyProviderLoader,
    bundled_plugin_dir,
    compare_versions,
    get_energy_provider_loader,
    init_energy_provider_loader,
    read_required_kit,
    read_static_version,
    validate_plugin_name,
)
from tests.support.plugin_files import (
    BAD_PROVIDER_ID,
    EXPLODES_IF_RUN,
    IMPORT_ERROR,
    IMPORTED_CLASS_ONLY,
    INIT_RAISES,
    METADATA_RAISES,
    METADATA_WRONG_TYPE,
    NO_CLASS,
    SYNTAX_ERROR,
    TWO_CLASSES,
    bad_metadata,
    good_plugin,
    kit_plugin,
    snapshot_tree,
    write_plugin,
)
from tests.support.plugins import BUNDLED_FILES, BUNDLED_IDS

BAD_NAMES = [
    "../x_provider.py",
    "/etc/passwd",
    "x_provider.py/..",
    "X_provider.py",
    "a.py",
    "x_provider.py\x00",
    "sub/x_provider.py",
    "x_provider.py\n",
    "",
    "_provider.py.bak",
    "..",
]


@pytest.fixture
def loader(config_dir: Path, bundled: Path) -> EnergyProviderLoader:
    return EnergyProviderLoader(config_dir, bundled)


def loaded(loader: EnergyProviderLoader) -> EnergyProviderLoader:
    loader.load_all()
    return loader


def status_of(loader: EnergyProviderLoader, name: str) -> PluginStatus:
    (entry,) = [s for s in loader.status() if s.file == name]
    return entry


class TestPluginNames:
    @pytest.mark.parametrize(
        "name", ["octopus_agile_provider.py", "a_provider.py", "x1_provider.py"]
    )
    def test_bare_plugin_names_are_accepted(self, name: str) -> None:
        """A bare [a-z0-9_]+_provider.py name is returned unchanged."""
        assert name == validate_plugin_name(name)

    @pytest.mark.parametrize("name", [*BAD_NAMES, "a" * 245 + "_provider.py"])
    def test_paths_and_other_names_are_refused(self, name: str) -> None:
        """Paths, traversal, upper case, NUL, other suffixes and names longer than a file
        system allows raise PluginNameError."""
        with pytest.raises(PluginNameError):
            validate_plugin_name(name)


class TestVersions:
    @pytest.mark.parametrize(
        ("left", "right", "expected"),
        [
            ("1.10.0", "1.9.0", 1),
            ("1.9.0", "1.10.0", -1),
            ("1.0", "1.0.0", 0),
            ("v2.0.0", "1.9.9", 1),
            ("1.0.0b1", "1.0.0a1", 1),
            ("1.0.0", "1.0.0", 0),
        ],
    )
    def test_compare_versions(self, left: str, right: str, expected: int) -> None:
        """Numeric per dotted part when both parse, else string comparison."""
        assert expected == compare_versions(left, right)

    def test_static_version_is_read_without_import(self, tmp_path: Path) -> None:
        """The module-level __version__ literal is found even in a file that cannot import."""
        path = write_plugin(tmp_path, "x_provider.py", IMPORT_ERROR.replace("1.0.0", "3.2.1"))
        assert "3.2.1" == read_static_version(path)

    def test_annotated_static_version(self, tmp_path: Path) -> None:
        """An annotated ``__version__: str = "..."`` counts too."""
        path = write_plugin(tmp_path, "x_provider.py", '__version__: str = "0.4"\n')
        assert "0.4" == read_static_version(path)

    def test_static_version_of_a_file_with_a_syntax_error(self, tmp_path: Path) -> None:
        """A plain version line is still found when the file does not parse."""
        path = write_plugin(tmp_path, "x_provider.py", SYNTAX_ERROR.replace("1.0.0", "7.1"))
        assert "7.1" == read_static_version(path)

    @pytest.mark.parametrize(
        "source", ["VALUE = 1\n", "__version__ = make()\n", "def f(:\n", "x = '''\n"]
    )
    def test_no_static_version(self, tmp_path: Path, source: str) -> None:
        """No literal, a computed value or an unparsable file give None."""
        path = write_plugin(tmp_path, "x_provider.py", source)
        assert read_static_version(path) is None


class TestBundledDir:
    def test_source_checkout_bundled_dir_has_plugins(self) -> None:
        """The real bundled folder resolves and ships at least one *_provider.py."""
        folder = bundled_plugin_dir()
        assert folder.is_dir()
        assert [] != sorted(folder.glob("*_provider.py"))

    def test_loader_defaults_to_real_bundled_dir(self, config_dir: Path) -> None:
        """Without a bundled_dir argument the loader uses bundled_plugin_dir()."""
        assert bundled_plugin_dir() == EnergyProviderLoader(config_dir).bundled_dir


class TestDeploy:
    def test_missing_folder_is_created_and_filled(
        self, loader: EnergyProviderLoader, bundled: Path, deployed: Path
    ) -> None:
        """Every bundled plugin is copied into a deployed folder that did not exist."""
        write_plugin(bundled, "b_provider.py", good_plugin("b"))
        write_plugin(bundled, "a_provider.py", good_plugin("a"))
        write_plugin(bundled, "helper.py", "X = 1\n")
        write_plugin(bundled, ".hidden_provider.py", good_plugin("hidden"))
        assert ["a_provider.py", "b_provider.py"] == loader.deploy_bundled_if_empty()
        assert ["a_provider.py", "b_provider.py"] == sorted(p.name for p in deployed.iterdir())
        assert (bundled / "a_provider.py").read_bytes() == (deployed / "a_provider.py").read_bytes()

    def test_folder_without_plugins_counts_as_empty(
        self, loader: EnergyProviderLoader, bundled: Path, deployed: Path
    ) -> None:
        """A deployed folder holding only other files is filled."""
        write_plugin(bundled, "a_provider.py", good_plugin("a"))
        write_plugin(deployed, "README.txt", "notes\n")
        assert ["a_provider.py"] == loader.deploy_bundled_if_empty()

    def test_users_own_plugin_is_never_overwritten(
        self, loader: EnergyProviderLoader, bundled: Path, deployed: Path
    ) -> None:
        """When the folder already holds a plugin nothing is copied or changed."""
        write_plugin(bundled, "a_provider.py", good_plugin("a", "2.0.0"))
        write_plugin(bundled, "mine_provider.py", good_plugin("mine", "9.9.9"))
        write_plugin(deployed, "mine_provider.py", good_plugin("mine", "0.1.0"))
        before = snapshot_tree(deployed)
        assert [] == loader.deploy_bundled_if_empty()
        assert before == snapshot_tree(deployed)

    def test_missing_bundled_folder_deploys_nothing(self, tmp_path: Path, deployed: Path) -> None:
        """No bundled folder: an empty deployed folder, no error."""
        loader = EnergyProviderLoader(tmp_path / "config", tmp_path / "absent")
        assert [] == loader.deploy_bundled_if_empty()
        assert deployed.is_dir()


class TestDeployWanted:
    """An upgraded energyd ships a plugin the (non-empty) folder never had: the plugins the
    configuration names are deployed at start, nothing deployed is ever overwritten."""

    def test_a_named_new_plugin_is_deployed_and_loaded(
        self, loader: EnergyProviderLoader, bundled: Path, deployed: Path
    ) -> None:
        write_plugin(bundled, "old_provider.py", good_plugin("old", "2.0.0"))
        write_plugin(bundled, "new_provider.py", good_plugin("new"))
        write_plugin(bundled, "other_provider.py", good_plugin("other"))
        write_plugin(deployed, "old_provider.py", good_plugin("old", "1.0.0"))
        loaded(loader)
        assert "new_provider.py ships with energyd" in (loader.missing("new") or "")
        before = (deployed / "old_provider.py").read_bytes()
        assert ["new_provider.py"] == loader.deploy_wanted(["old", "new", "absent"])
        assert {"old", "new"} == set(loader.providers)  # loaded, "other" not wanted
        assert before == (deployed / "old_provider.py").read_bytes()  # not overwritten
        assert None is loader.missing("new")

    def test_a_users_own_plugin_for_that_id_stays_the_one(
        self, loader: EnergyProviderLoader, bundled: Path, deployed: Path
    ) -> None:
        """A file of the user's that provides the id under another name is not shadowed."""
        write_plugin(bundled, "new_provider.py", good_plugin("new", "2.0.0"))
        write_plugin(deployed, "my_new_provider.py", good_plugin("new", "0.1.0"))
        loaded(loader)
        before = snapshot_tree(deployed)
        assert [] == loader.deploy_wanted(["new"])
        assert before == snapshot_tree(deployed)

    def test_a_deployed_file_that_fails_to_load_is_not_replaced(
        self, loader: EnergyProviderLoader, bundled: Path, deployed: Path
    ) -> None:
        write_plugin(bundled, "new_provider.py", good_plugin("new"))
        write_plugin(deployed, "new_provider.py", "def broken(:\n")
        loaded(loader)
        before = snapshot_tree(deployed)
        assert [] == loader.deploy_wanted(["new"])
        assert before == snapshot_tree(deployed)
        assert "failed to load" in (loader.missing("new") or "")


class TestLoading:
    async def test_contract_style_plugin_loads_unchanged(
        self, loader: EnergyProviderLoader, deployed: Path
    ) -> None:
        """A plugin importing providers.energy.base loads and returns energyd's slot type."""
        write_plugin(deployed, "demo_provider.py", good_plugin("demo", "1.2.3"))
        provider = loaded(loader).get("demo")
        start = datetime(2024, 5, 1, 22, 0, tzinfo=UTC)
        slots = await provider.fetch_prices("C", start, start.replace(hour=23), {"region": "C"})
        assert ["demo"] == list(loader.providers)
        assert "1.2.3" == loader.metadata("demo").version
        assert [base.EnergyPriceSlot] * 2 == [type(slot) for slot in slots]
        assert {"region": "required"} == provider.validate_config({})

    def test_plugin_module_is_registered_under_its_own_name(
        self, loader: EnergyProviderLoader, deployed: Path
    ) -> None:
        """The module lives at energyd_plugins.<stem> and its class claims that module."""
        write_plugin(deployed, "demo_provider.py", good_plugin("demo"))
        provider = loaded(loader).get("demo")
        assert f"{MODULE_PREFIX}.demo_provider" == type(provider).__module__
        assert sys.modules[type(provider).__module__].__file__ == str(deployed / "demo_provider.py")

    @pytest.mark.parametrize(
        ("source", "error_start"),
        [
            (SYNTAX_ERROR, "SyntaxError: "),
            (IMPORT_ERROR, "ModuleNotFoundError: No module named 'energyd_test_no_such_module'"),
            (INIT_RAISES, "RuntimeError: boom in init"),
            (METADATA_RAISES, "ValueError: no metadata today"),
            (METADATA_WRONG_TYPE, "PluginLoadError: get_metadata() returned dict"),
            (BAD_PROVIDER_ID, "PluginLoadError: provider_id 'Bad-Id' is not"),
            (NO_CLASS, "PluginLoadError: bad_provider.py defines no concrete"),
            (TWO_CLASSES, "PluginLoadError: bad_provider.py defines several provider classes"),
            (IMPORTED_CLASS_ONLY, "PluginLoadError: bad_provider.py defines no concrete"),
            ("import sys\nsys.exit(3)\n", "SystemExit: 3"),
            (bad_metadata('market_timezone="Mars/Base"'), "PluginLoadError: market calendar"),
            (bad_metadata('day_start_local="25:00"'), "PluginLoadError: market calendar"),
            (bad_metadata('currency="gbp"'), "PluginLoadError: currency 'gbp' is not"),
            (bad_metadata("slot_minutes=0"), "PluginLoadError: slot_minutes 0 is not"),
        ],
    )
    def test_broken_plugin_is_a_load_error_and_others_load(
        self, loader: EnergyProviderLoader, deployed: Path, source: str, error_start: str
    ) -> None:
        """Any failure marks only that file load_error (one line) and the good plugins load."""
        write_plugin(deployed, "a_provider.py", good_plugin("a"))
        write_plugin(deployed, "bad_provider.py", source)
        write_plugin(deployed, "z_provider.py", good_plugin("z"))
        entry = status_of(loaded(loader), "bad_provider.py")
        assert ["a", "z"] == sorted(loader.providers)
        assert PluginState.LOAD_ERROR == entry.state
        assert entry.error is not None
        assert entry.error.startswith(error_start), entry.error
        assert "\n" not in entry.error
        assert f"{MODULE_PREFIX}.bad_provider" not in sys.modules

    def test_abstract_class_is_named_in_the_error(
        self, loader: EnergyProviderLoader, deployed: Path
    ) -> None:
        """A provider class missing a required method is reported with what it lacks."""
        source = good_plugin("half").replace("async def fetch_prices", "async def fetch_other")
        write_plugin(deployed, "half_provider.py", source)
        entry = status_of(loaded(loader), "half_provider.py")
        assert entry.error is not None
        assert "DemoProvider lacks fetch_prices" in entry.error

    def test_imported_class_beside_own_class_is_ignored(
        self, loader: EnergyProviderLoader, deployed: Path
    ) -> None:
        """Only classes defined in the plugin file count, not ones it imports."""
        write_plugin(deployed, "own_provider.py", IMPORTED_CLASS_ONLY + good_plugin("own"))
        assert ["own"] == list(loaded(loader).providers)

    def test_duplicate_provider_id_fails_the_later_file(
        self, loader: EnergyProviderLoader, deployed: Path
    ) -> None:
        """Two files with one provider_id: the later by name is a load_error naming the other."""
        write_plugin(deployed, "a_provider.py", good_plugin("same", "1.0.0"))
        write_plugin(deployed, "b_provider.py", good_plugin("same", "2.0.0"))
        entry = status_of(loaded(loader), "b_provider.py")
        assert "1.0.0" == loader.metadata("same").version
        assert PluginState.LOAD_ERROR == entry.state
        assert "PluginLoadError: provider_id 'same' is already provided by a_provider.py" == (
            entry.error
        )

    def test_other_files_are_ignored(self, loader: EnergyProviderLoader, deployed: Path) -> None:
        """Only [a-z0-9_]+_provider.py files are loaded; helpers, dot-files, odd names are not."""
        write_plugin(deployed, "helper.py", SYNTAX_ERROR)
        write_plugin(deployed, ".tmp_provider.py", SYNTAX_ERROR)
        write_plugin(deployed, "Upper_provider.py", SYNTAX_ERROR)
        write_plugin(deployed, "ok_provider.py", good_plugin("ok"))
        assert ["ok_provider.py"] == [s.file for s in loaded(loader).status()]

    def test_missing_deployed_folder_loads_nothing(self, loader: EnergyProviderLoader) -> None:
        """No deployed folder means no providers and no error."""
        assert {} == dict(loaded(loader).providers)

    def test_unknown_provider_id(self, loader: EnergyProviderLoader, deployed: Path) -> None:
        """get() and metadata() of an id nobody provides raise UnknownProviderError."""
        write_plugin(deployed, "a_provider.py", good_plugin("a"))
        loaded(loader)
        with pytest.raises(UnknownProviderError, match="'nope'"):
            loader.get("nope")
        with pytest.raises(UnknownProviderError):
            loader.metadata("nope")


class TestReload:
    def test_reload_picks_up_an_edited_file(
        self, loader: EnergyProviderLoader, deployed: Path
    ) -> None:
        """An edit of the same size in the same second is seen (no stale bytecode)."""
        path = write_plugin(deployed, "demo_provider.py", good_plugin("demo", "1.0.0"))
        old = loaded(loader).get("demo")
        path.write_text(good_plugin("demo", "1.0.1"), encoding="utf-8")
        loader.reload()
        new = loader.get("demo")
        assert "1.0.1" == new.get_metadata().version
        assert type(old) is not type(new)
        assert not (deployed / "__pycache__").exists()

    def test_reload_drops_removed_plugins(
        self, loader: EnergyProviderLoader, deployed: Path
    ) -> None:
        """A deleted file's provider and module are gone after reload."""
        path = write_plugin(deployed, "gone_provider.py", good_plugin("gone"))
        write_plugin(deployed, "kept_provider.py", good_plugin("kept"))
        loaded(loader)
        path.unlink()
        loader.reload()
        assert ["kept"] == list(loader.providers)
        assert f"{MODULE_PREFIX}.gone_provider" not in sys.modules

    def test_reload_repairs_a_fixed_file(
        self, loader: EnergyProviderLoader, deployed: Path
    ) -> None:
        """A file fixed on disk loads on the next reload."""
        path = write_plugin(deployed, "demo_provider.py", SYNTAX_ERROR)
        assert {} == dict(loaded(loader).providers)
        path.write_text(good_plugin("demo"), encoding="utf-8")
        loader.reload()
        assert ["demo"] == list(loader.providers)


class TestStatus:
    def test_every_state(self, loader: EnergyProviderLoader, bundled: Path, deployed: Path) -> None:
        """Bundled and deployed files, sorted by file name, each with its state and versions."""
        write_plugin(bundled, "a_provider.py", good_plugin("a", "1.10.0"))
        write_plugin(deployed, "a_provider.py", good_plugin("a", "1.9.0"))
        write_plugin(bundled, "b_provider.py", good_plugin("b", "2.0.0"))
        write_plugin(deployed, "b_provider.py", good_plugin("b", "2.0.0"))
        write_plugin(bundled, "c_provider.py", good_plugin("c", "0.3.0"))
        write_plugin(deployed, "d_provider.py", good_plugin("d", "0.0.1", display_name="Mine"))
        write_plugin(bundled, "e_provider.py", good_plugin("e", "5.0.0"))
        write_plugin(deployed, "e_provider.py", SYNTAX_ERROR)
        write_plugin(deployed, "f_provider.py", good_plugin("f", "3.0.0"))
        write_plugin(bundled, "f_provider.py", good_plugin("f", "2.0.0"))
        statuses = loaded(loader).status()
        syntax_error = status_of(loader, "e_provider.py").error
        assert syntax_error is not None
        assert [
            PluginStatus(
                "a_provider.py", PluginState.UPDATE_AVAILABLE, "a", "a prices", "1.9.0", "1.10.0"
            ),
            PluginStatus(
                "b_provider.py", PluginState.UP_TO_DATE, "b", "b prices", "2.0.0", "2.0.0"
            ),
            PluginStatus("c_provider.py", PluginState.NOT_INSTALLED, bundled_version="0.3.0"),
            PluginStatus("d_provider.py", PluginState.LOCAL, "d", "Mine", "0.0.1"),
            PluginStatus(
                "e_provider.py",
                PluginState.LOAD_ERROR,
                deployed_version="1.0.0",
                bundled_version="5.0.0",
                error=syntax_error,
            ),
            PluginStatus(
                "f_provider.py", PluginState.UP_TO_DATE, "f", "f prices", "3.0.0", "2.0.0"
            ),
        ] == statuses

    def test_file_added_after_load_is_reported_as_not_loaded(
        self, loader: EnergyProviderLoader, deployed: Path
    ) -> None:
        """A deployed file newer than the last load shows its static version and a note."""
        loaded(loader)
        write_plugin(deployed, "new_provider.py", good_plugin("new", "0.2.0"))
        entry = status_of(loader, "new_provider.py")
        assert (PluginState.LOCAL, "0.2.0") == (entry.state, entry.deployed_version)
        assert entry.error is not None
        assert "reload" in entry.error


class TestUpdate:
    def test_update_brings_an_old_copy_up_to_date(
        self, loader: EnergyProviderLoader, bundled: Path, deployed: Path
    ) -> None:
        """update() copies the bundled file, reloads, and returns (before, after)."""
        write_plugin(bundled, "a_provider.py", good_plugin("a", "1.1.0"))
        write_plugin(deployed, "a_provider.py", good_plugin("a", "1.0.0"))
        assert ("1.0.0", "1.1.0") == loaded(loader).update("a_provider.py")
        assert PluginState.UP_TO_DATE == status_of(loader, "a_provider.py").state
        assert (bundled / "a_provider.py").read_bytes() == (deployed / "a_provider.py").read_bytes()
        assert "1.1.0" == loader.metadata("a").version
        assert ["a_provider.py"] == sorted(p.name for p in deployed.iterdir())

    def test_update_installs_a_not_installed_plugin(
        self, loader: EnergyProviderLoader, bundled: Path
    ) -> None:
        """Updating a bundled-only file installs it; before is None."""
        write_plugin(bundled, "c_provider.py", good_plugin("c", "0.3.0"))
        assert (None, "0.3.0") == loaded(loader).update("c_provider.py")
        assert ["c"] == list(loader.providers)

    def test_update_of_a_name_not_bundled(
        self, loader: EnergyProviderLoader, deployed: Path
    ) -> None:
        """A valid name with no bundled file raises UnknownProviderError; the file is kept."""
        write_plugin(deployed, "mine_provider.py", good_plugin("mine"))
        before = snapshot_tree(deployed)
        with pytest.raises(UnknownProviderError):
            loaded(loader).update("mine_provider.py")
        assert before == snapshot_tree(deployed)

    @pytest.mark.parametrize("name", BAD_NAMES)
    def test_bad_names_write_nothing(
        self, loader: EnergyProviderLoader, tmp_path: Path, bundled: Path, deployed: Path, name: str
    ) -> None:
        """Traversal, absolute and malformed names are refused before any file is touched."""
        write_plugin(bundled, "x_provider.py", good_plugin("x", "2.0.0"))
        write_plugin(bundled / "sub", "x_provider.py", good_plugin("x", "2.0.0"))
        write_plugin(tmp_path, "x_provider.py", good_plugin("outside", "1.0.0"))
        write_plugin(deployed, "x_provider.py", good_plugin("x", "1.0.0"))
        before = snapshot_tree(tmp_path)
        with pytest.raises(PluginNameError):
            loaded(loader).update(name)
        assert before == snapshot_tree(tmp_path)

    def test_update_all_updates_what_needs_it(
        self, loader: EnergyProviderLoader, bundled: Path, deployed: Path
    ) -> None:
        """Old, missing and broken copies of bundled files are updated; others are left."""
        write_plugin(bundled, "a_provider.py", good_plugin("a", "1.1.0"))
        write_plugin(deployed, "a_provider.py", good_plugin("a", "1.0.0"))
        write_plugin(bundled, "b_provider.py", good_plugin("b", "2.0.0"))
        write_plugin(deployed, "b_provider.py", good_plugin("b", "2.0.0"))
        write_plugin(bundled, "c_provider.py", good_plugin("c", "0.3.0"))
        write_plugin(bundled, "e_provider.py", good_plugin("e", "5.0.0"))
        write_plugin(deployed, "e_provider.py", SYNTAX_ERROR.replace("1.0.0", "4.0.0"))
        write_plugin(deployed, "mine_provider.py", good_plugin("mine", "0.1.0"))
        mine = (deployed / "mine_provider.py").read_bytes()
        assert [
            ("a_provider.py", "1.0.0", "1.1.0"),
            ("c_provider.py", None, "0.3.0"),
            ("e_provider.py", "4.0.0", "5.0.0"),
        ] == loaded(loader).update_all()
        assert ["a", "b", "c", "e", "mine"] == sorted(loader.providers)
        assert mine == (deployed / "mine_provider.py").read_bytes()
        assert [] == loader.update_all()

    def test_broken_bundled_file_is_not_copied_again(
        self, loader: EnergyProviderLoader, bundled: Path, deployed: Path
    ) -> None:
        """A load_error whose file already equals the bundled one needs no update."""
        write_plugin(bundled, "e_provider.py", IMPORT_ERROR)
        write_plugin(deployed, "e_provider.py", IMPORT_ERROR)
        assert [] == loaded(loader).update_all()

    def test_local_load_error_is_not_touched(
        self, loader: EnergyProviderLoader, deployed: Path
    ) -> None:
        """A broken local-only plugin is left for its owner."""
        write_plugin(deployed, "mine_provider.py", SYNTAX_ERROR)
        assert [] == loaded(loader).update_all()


class TestModuleLevel:
    def test_init_deploys_loads_and_registers(self, tmp_path: Path, bundled: Path) -> None:
        """init_energy_provider_loader deploys bundled files, loads them, and get() returns it."""
        write_plugin(bundled, "a_provider.py", good_plugin("a"))
        loader = init_energy_provider_loader(str(tmp_path / "config"), bundled)
        assert loader is get_energy_provider_loader()
        assert ["a"] == list(loader.providers)

    def test_get_before_init_raises(self) -> None:
        """get_energy_provider_loader() in a fresh process raises RuntimeError."""
        code = (
            "from energyd.providers.loader import get_energy_provider_loader\n"
            "try:\n    get_energy_provider_loader()\n"
            "except RuntimeError:\n    print('refused')\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
        )
        assert "refused\n" == result.stdout


class TestPluginKit:
    async def test_a_kit_plugin_loads_and_fetches(
        self, loader: EnergyProviderLoader, deployed: Path
    ) -> None:
        """A plugin on KitProvider is found as the file's one concrete provider and runs."""
        write_plugin(deployed, "kitdemo_provider.py", kit_plugin("kitdemo"))
        provider = loaded(loader).get("kitdemo")
        start = datetime(2025, 6, 1, 10, tzinfo=UTC)
        slots = await provider.fetch_prices("C", start, start + timedelta(hours=2), {})
        assert [7.5, 7.5] == [slot.price_pence for slot in slots]
        assert ["region"] == loader.metadata("kitdemo").config_schema["required"]

    def test_a_newer_kit_is_a_load_error_naming_both_versions(
        self, loader: EnergyProviderLoader, deployed: Path
    ) -> None:
        """REQUIRES_KIT above KIT_VERSION: not executed, reported, the others still load."""
        newer = KIT_VERSION + 1
        write_plugin(deployed, "a_provider.py", good_plugin("a"))
        write_plugin(deployed, "new_provider.py", kit_plugin("new", newer) + EXPLODES_IF_RUN)
        write_plugin(deployed, "z_provider.py", kit_plugin("z"))
        entry = status_of(loaded(loader), "new_provider.py")
        expected = (
            f"PluginLoadError: new_provider.py needs plugin kit {newer}; "
            f"this energyd has kit {KIT_VERSION}"
        )
        assert (PluginState.LOAD_ERROR, expected, newer) == (entry.state, entry.error, entry.kit)
        assert ["a", "z"] == sorted(loader.providers)
        assert "1.0.0" == entry.deployed_version

    @pytest.mark.parametrize("required", [1, KIT_VERSION])
    def test_an_equal_or_older_kit_loads(
        self, loader: EnergyProviderLoader, deployed: Path, required: int
    ) -> None:
        """REQUIRES_KIT at or below KIT_VERSION loads, and the status shows it."""
        write_plugin(deployed, "kitdemo_provider.py", kit_plugin("kitdemo", required))
        entry = status_of(loaded(loader), "kitdemo_provider.py")
        assert (PluginState.LOCAL, None, required) == (entry.state, entry.error, entry.kit)

    def test_a_plain_v1_plugin_shows_no_kit(
        self, loader: EnergyProviderLoader, deployed: Path
    ) -> None:
        """A contract-only plugin needs no kit: kit is null in the status JSON."""
        write_plugin(deployed, "demo_provider.py", good_plugin("demo"))
        entry = status_of(loaded(loader), "demo_provider.py")
        assert None is entry.as_json()["kit"]
        assert ["demo"] == list(loader.providers)

    @pytest.mark.parametrize("value", ["2", 0, True, 1.5])
    def test_a_malformed_requires_kit_is_a_load_error(
        self, loader: EnergyProviderLoader, deployed: Path, value: object
    ) -> None:
        """REQUIRES_KIT must be a whole number >= 1."""
        write_plugin(deployed, "odd_provider.py", kit_plugin("odd", value) + EXPLODES_IF_RUN)
        entry = status_of(loaded(loader), "odd_provider.py")
        assert entry.error is not None
        assert entry.error.startswith("PluginLoadError: odd_provider.py: REQUIRES_KIT must be")

    def test_requires_kit_is_read_statically(self, tmp_path: Path) -> None:
        """An annotated REQUIRES_KIT is read without importing; a computed one is refused."""
        path = write_plugin(tmp_path, "x_provider.py", "REQUIRES_KIT: int = 3\nimport nothing\n")
        assert 3 == read_required_kit(path)
        write_plugin(tmp_path, "x_provider.py", "REQUIRES_KIT = 1 + 1\n")
        with pytest.raises(PluginLoadError, match="not a literal"):
            read_required_kit(path)

    def test_the_bundled_plugins_load_together(self, tmp_path: Path) -> None:
        """Every shipped plugin loads through the real loader, each naming the kit it needs
        (the European day-ahead markets kit 3; the retail tariffs, the fixed tariff and the
        generic JSON source kit 4; Octopus kit 5)."""
        loader = EnergyProviderLoader(tmp_path / "config", bundled_plugin_dir())
        loader.deploy_bundled_if_empty()
        loader.load_all()
        kits = {entry.file: (entry.state, entry.kit) for entry in loader.status()}
        assert set(BUNDLED_IDS) == set(loader.providers)
        expected = dict.fromkeys(BUNDLED_FILES, (PluginState.UP_TO_DATE, 4))
        for kit3 in ("awattar", "energidataservice", "energy_charts", "entsoe", "nordpool"):
            expected[f"{kit3}_provider.py"] = (PluginState.UP_TO_DATE, 3)
        expected["octopus_agile_provider.py"] = (PluginState.UP_TO_DATE, 5)
        assert expected == kits
