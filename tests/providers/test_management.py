"""Plugin management actions: each one audited, refusals re-raised, listeners told."""

from __future__ import annotations

from pathlib import Path

import pytest

from energyd.domain.records import AuditRecord, PluginState
from energyd.exceptions import PluginNameError, ProviderError, UnknownProviderError
from energyd.providers.loader import EnergyProviderLoader
from energyd.providers.management import AuditSink, ProviderManager, audit_file_name
from tests.support.plugin_files import SYNTAX_ERROR, good_plugin, snapshot_tree, write_plugin


class ListAudit:
    """An AuditSink that keeps the records in a list."""

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    async def add_audit(self, record: AuditRecord) -> None:
        self.records.append(record)


class Changes:
    """An on_change listener that counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1


def entries(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def summary(record: AuditRecord) -> tuple[object, ...]:
    return (
        record.action,
        record.file,
        record.version_before,
        record.version_after,
        record.actor,
        record.ok,
    )


@pytest.fixture
def loader(config_dir: Path, bundled: Path) -> EnergyProviderLoader:
    return EnergyProviderLoader(config_dir, bundled)


@pytest.fixture
def audit() -> ListAudit:
    return ListAudit()


@pytest.fixture
def changes() -> Changes:
    return Changes()


@pytest.fixture
def manager(loader: EnergyProviderLoader, audit: ListAudit, changes: Changes) -> ProviderManager:
    sink: AuditSink = audit
    return ProviderManager(loader, sink, on_change=changes)


class TestUpdate:
    async def test_update_is_audited_with_versions(
        self,
        manager: ProviderManager,
        loader: EnergyProviderLoader,
        audit: ListAudit,
        changes: Changes,
        bundled: Path,
        deployed: Path,
    ) -> None:
        """An update writes one ok record with before -> after and tells the listener."""
        write_plugin(bundled, "a_provider.py", good_plugin("a", "1.1.0"))
        write_plugin(deployed, "a_provider.py", good_plugin("a", "1.0.0"))
        loader.load_all()
        record = await manager.update("a_provider.py", "mqtt")
        assert [record] == audit.records
        assert ("update", "a_provider.py", "1.0.0", "1.1.0", "mqtt", True) == summary(record)
        assert 1 == changes.calls
        assert PluginState.UP_TO_DATE == manager.status()[0].state
        assert (bundled / "a_provider.py").read_bytes() == (deployed / "a_provider.py").read_bytes()

    @pytest.mark.parametrize(
        ("name", "audited"),
        [
            ("../x_provider.py", "../x_provider.py"),
            ("/etc/passwd", "/etc/passwd"),
            ("x_provider.py/..", "x_provider.py/.."),
            ("X_provider.py", "X_provider.py"),
            ("a.py", "a.py"),
            ("x_provider.py\x00", "x_provider.py\\x00"),
            ("sub/x_provider.py", "sub/x_provider.py"),
            ("../" * 100 + "x_provider.py", ("../" * 100)[:200]),
        ],
    )
    async def test_refused_name_is_audited_and_raised(
        self,
        manager: ProviderManager,
        audit: ListAudit,
        changes: Changes,
        tmp_path: Path,
        bundled: Path,
        name: str,
        audited: str,
    ) -> None:
        """A bad name writes nothing, audits ok=False (escaped, 200 chars) and re-raises."""
        write_plugin(bundled, "x_provider.py", good_plugin("x"))
        write_plugin(bundled / "sub", "x_provider.py", good_plugin("x"))
        before = snapshot_tree(tmp_path)
        with pytest.raises(PluginNameError):
            await manager.update(name, "http")
        assert before == snapshot_tree(tmp_path)
        assert [("update", audited, None, None, "http", False)] == [
            summary(r) for r in audit.records
        ]
        assert "refused plugin file name" in audit.records[0].message
        assert 0 == changes.calls

    async def test_unknown_bundled_file_is_audited_and_raised(
        self, manager: ProviderManager, audit: ListAudit
    ) -> None:
        """A well-formed name that is not bundled raises UnknownProviderError, audited."""
        with pytest.raises(UnknownProviderError):
            await manager.update("nope_provider.py", "cli")
        assert [("update", "nope_provider.py", None, None, "cli", False)] == [
            summary(r) for r in audit.records
        ]

    async def test_failed_copy_is_a_provider_error(
        self,
        manager: ProviderManager,
        audit: ListAudit,
        changes: Changes,
        bundled: Path,
        deployed: Path,
    ) -> None:
        """A copy blocked by a folder is audited ok=False and leaves no temp file behind."""
        write_plugin(bundled, "a_provider.py", good_plugin("a"))
        (deployed / "a_provider.py").mkdir(parents=True)
        with pytest.raises(ProviderError, match=r"copying a_provider\.py"):
            await manager.update("a_provider.py", "mqtt")
        assert [("update", "a_provider.py", None, None, "mqtt", False)] == [
            summary(r) for r in audit.records
        ]
        assert ["a_provider.py"] == entries(deployed)
        assert 0 == changes.calls

    async def test_update_to_a_broken_bundled_file_is_not_ok(
        self, manager: ProviderManager, audit: ListAudit, bundled: Path
    ) -> None:
        """The copy happens but a bundled file that fails to load makes the record ok=False."""
        write_plugin(bundled, "a_provider.py", SYNTAX_ERROR)
        record = await manager.update("a_provider.py", "cli")
        assert ("update", "a_provider.py", None, "1.0.0", "cli", False) == summary(record)
        assert record.message.startswith("updated; load failed: SyntaxError")


class TestUpdateAll:
    async def test_one_record_per_updated_file(
        self,
        manager: ProviderManager,
        loader: EnergyProviderLoader,
        audit: ListAudit,
        changes: Changes,
        bundled: Path,
        deployed: Path,
    ) -> None:
        """Each updated file is audited with its versions; the listener is told once."""
        write_plugin(bundled, "a_provider.py", good_plugin("a", "1.1.0"))
        write_plugin(deployed, "a_provider.py", good_plugin("a", "1.0.0"))
        write_plugin(bundled, "b_provider.py", good_plugin("b", "2.0.0"))
        write_plugin(deployed, "b_provider.py", good_plugin("b", "2.0.0"))
        write_plugin(bundled, "c_provider.py", good_plugin("c", "0.3.0"))
        loader.load_all()
        records = await manager.update_all("mqtt")
        assert records == audit.records
        assert [
            ("update_all", "a_provider.py", "1.0.0", "1.1.0", "mqtt", True),
            ("update_all", "c_provider.py", None, "0.3.0", "mqtt", True),
        ] == [summary(r) for r in records]
        assert 1 == changes.calls
        assert ["a", "b", "c"] == sorted(loader.providers)

    async def test_nothing_to_update_writes_one_summary(
        self,
        manager: ProviderManager,
        loader: EnergyProviderLoader,
        audit: ListAudit,
        changes: Changes,
        bundled: Path,
        deployed: Path,
    ) -> None:
        """With everything current a single '*' record is written and nobody is told."""
        write_plugin(bundled, "b_provider.py", good_plugin("b", "2.0.0"))
        write_plugin(deployed, "b_provider.py", good_plugin("b", "2.0.0"))
        loader.load_all()
        records = await manager.update_all("cli")
        assert [("update_all", "*", None, None, "cli", True)] == [summary(r) for r in records]
        assert "nothing to update" == records[0].message
        assert records == audit.records
        assert 0 == changes.calls

    async def test_failed_copy_is_audited_once_and_raised(
        self,
        manager: ProviderManager,
        loader: EnergyProviderLoader,
        audit: ListAudit,
        bundled: Path,
        deployed: Path,
    ) -> None:
        """A copy that fails mid-way gives one ok=False '*' record naming the file; it raises."""
        write_plugin(bundled, "a_provider.py", good_plugin("a", "1.1.0"))
        write_plugin(bundled, "c_provider.py", good_plugin("c", "0.3.0"))
        (deployed / "c_provider.py").mkdir(parents=True)
        with pytest.raises(ProviderError, match=r"copying c_provider\.py"):
            await manager.update_all("mqtt")
        assert [("update_all", "*", None, None, "mqtt", False)] == [
            summary(r) for r in audit.records
        ]
        assert ["a"] == sorted(loader.providers)


class TestReload:
    async def test_reload_is_audited_and_picks_up_edits(
        self,
        manager: ProviderManager,
        loader: EnergyProviderLoader,
        audit: ListAudit,
        changes: Changes,
        deployed: Path,
    ) -> None:
        """A reload loads edited files, names loaded and failed files, and tells the listener."""
        path = write_plugin(deployed, "a_provider.py", good_plugin("a", "1.0.0"))
        write_plugin(deployed, "bad_provider.py", SYNTAX_ERROR)
        loader.load_all()
        path.write_text(good_plugin("a", "1.0.1"), encoding="utf-8")
        record = await manager.reload("http")
        assert [("reload", "*", None, None, "http", True)] == [summary(r) for r in audit.records]
        assert "loaded: a; failed: bad_provider.py" == record.message
        assert "1.0.1" == loader.metadata("a").version
        assert 1 == changes.calls

    async def test_manager_without_listener(
        self, loader: EnergyProviderLoader, audit: ListAudit
    ) -> None:
        """on_change is optional."""
        record = await ProviderManager(loader, audit).reload("cli")
        assert "loaded: none" == record.message


class TestAuditFileName:
    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("a_provider.py", "a_provider.py"),
            ("a\nb\x00", "a\\x0ab\\x00"),
            ("x" * 300, "x" * 200),
        ],
    )
    def test_names_are_escaped_and_clipped(self, name: str, expected: str) -> None:
        """Non-printable characters are escaped and the result is at most 200 characters."""
        assert expected == audit_file_name(name)
