"""Updating one plugin by its provider id, and updating one that is already up to date."""

from __future__ import annotations

from pathlib import Path

import pytest

from energyd.domain.records import AuditRecord
from energyd.exceptions import UnknownProviderError
from energyd.providers.loader import EnergyProviderLoader
from energyd.providers.management import ProviderManager
from tests.support.plugin_files import good_plugin, write_plugin


class Audit:
    """An audit sink keeping the records; counts the listener's calls too."""

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []
        self.changes = 0

    async def add_audit(self, record: AuditRecord) -> None:
        self.records.append(record)

    async def changed(self) -> None:
        self.changes += 1


def summary(record: AuditRecord) -> tuple[object, ...]:
    return (record.action, record.file, record.version_before, record.version_after, record.ok)


@pytest.fixture
def audit() -> Audit:
    return Audit()


@pytest.fixture
def loader(config_dir: Path, bundled: Path) -> EnergyProviderLoader:
    return EnergyProviderLoader(config_dir, bundled)


@pytest.fixture
def manager(loader: EnergyProviderLoader, audit: Audit) -> ProviderManager:
    return ProviderManager(loader, audit, on_change=audit.changed)


class TestByProviderId:
    async def test_the_id_names_the_file_that_provides_it(
        self,
        manager: ProviderManager,
        loader: EnergyProviderLoader,
        audit: Audit,
        bundled: Path,
        deployed: Path,
    ) -> None:
        """update("octo") updates the file whose plugin provides octo, whatever its name."""
        write_plugin(bundled, "tariffs_provider.py", good_plugin("octo", "1.1.0"))
        write_plugin(deployed, "tariffs_provider.py", good_plugin("octo", "1.0.0"))
        loader.load_all()
        record = await manager.update("octo", "cli")
        assert ("update", "tariffs_provider.py", "1.0.0", "1.1.0", True) == summary(record)
        assert "updated" == record.message
        assert (1, "1.1.0") == (audit.changes, loader.metadata("octo").version)

    async def test_a_bundled_plugin_not_installed_by_its_id(
        self, manager: ProviderManager, loader: EnergyProviderLoader, bundled: Path
    ) -> None:
        """A bundled plugin not deployed yet is found as <id>_provider.py."""
        write_plugin(bundled, "fresh_provider.py", good_plugin("fresh", "2.0.0"))
        loader.load_all()
        record = await manager.update("fresh", "mqtt")
        assert ("update", "fresh_provider.py", None, "2.0.0", True) == summary(record)

    async def test_an_unknown_id_names_the_known_ones(
        self,
        manager: ProviderManager,
        loader: EnergyProviderLoader,
        audit: Audit,
        bundled: Path,
        deployed: Path,
    ) -> None:
        """An id no plugin provides is unknown_provider, listing the ids and files; audited."""
        write_plugin(bundled, "a_provider.py", good_plugin("a"))
        write_plugin(deployed, "a_provider.py", good_plugin("a"))
        loader.load_all()
        with pytest.raises(UnknownProviderError, match=r"provider ids: a; files: a_provider\.py"):
            await manager.update("octopus", "http")
        assert [("update", "octopus", None, None, False)] == [summary(r) for r in audit.records]


class TestAlreadyUpToDate:
    async def test_nothing_is_copied_and_the_record_says_so(
        self,
        manager: ProviderManager,
        loader: EnergyProviderLoader,
        audit: Audit,
        bundled: Path,
        deployed: Path,
    ) -> None:
        """An up-to-date plugin is left alone: an ok record "already up to date", no reload,
        no listener call, the deployed file untouched (by file name and by id alike)."""
        write_plugin(bundled, "a_provider.py", good_plugin("a", "1.0.0", price=1.0))
        local = write_plugin(deployed, "a_provider.py", good_plugin("a", "1.0.0", price=2.0))
        loader.load_all()
        by_file = await manager.update("a_provider.py", "cli")
        by_id = await manager.update("a", "mqtt")
        for record in (by_file, by_id):
            assert ("update", "a_provider.py", "1.0.0", "1.0.0", True) == summary(record)
            assert "already up to date" == record.message
        assert [by_file, by_id] == audit.records
        assert (0, good_plugin("a", "1.0.0", price=2.0)) == (audit.changes, local.read_text())

    async def test_a_newer_deployed_plugin_is_not_downgraded(
        self,
        manager: ProviderManager,
        loader: EnergyProviderLoader,
        bundled: Path,
        deployed: Path,
    ) -> None:
        """Deployed newer than bundled: up to date, both versions named, nothing copied."""
        write_plugin(bundled, "a_provider.py", good_plugin("a", "1.0.0"))
        write_plugin(deployed, "a_provider.py", good_plugin("a", "1.2.0"))
        loader.load_all()
        record = await manager.update("a", "cli")
        assert ("update", "a_provider.py", "1.2.0", "1.2.0", True) == summary(record)
        assert "already up to date (deployed 1.2.0, bundled 1.0.0)" == record.message
        assert "1.2.0" == loader.metadata("a").version
