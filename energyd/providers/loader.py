"""Discover, deploy, version and (re)load ``*_provider.py`` plugin files.

Two folders take part:

- the *bundled* folder ships with energyd (``bundled_config/providers/energy`` in a checkout,
  ``energyd/bundled/providers/energy`` in an installed wheel);
- the *deployed* folder (``<config_dir>/providers/energy``) holds the files actually loaded.
  It is filled from the bundled folder when empty and updated from it on request; a file that
  exists only there is the operator's own ("local") plugin and is never touched.

Loading never raises for a bad plugin: whatever goes wrong (syntax error, missing import,
exception in ``__init__`` or ``get_metadata``, no provider class, duplicate provider id) turns
into a ``load_error`` status for that file, and the other plugins load as usual.

A plugin built on a newer plugin kit than this energyd offers says so with a module-level
``REQUIRES_KIT = <n>``; it is read statically (like ``__version__``) and, when ``n`` exceeds
:data:`~energyd.providers.kit.version.KIT_VERSION`, the file is not executed at all but
reported as a load error naming both versions.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import CodeType, MappingProxyType, ModuleType

import structlog

import energyd
from energyd.domain.calendar import MarketCalendar
from energyd.domain.records import PluginState, PluginStatus
from energyd.exceptions import (
    PluginLoadError,
    PluginNameError,
    ProviderError,
    UnknownProviderError,
)
from energyd.providers.base import EnergyPriceProvider, EnergyProviderMetadata
from energyd.providers.compat import install_import_aliases
from energyd.providers.kit.version import KIT_VERSION
from energyd.providers.sources import (
    NOT_LITERAL,
    PluginSources,
    Stamp,
    stamp,
    static_facts,
)

__all__ = [
    "MODULE_PREFIX",
    "PLUGIN_NAME",
    "PROVIDER_ID",
    "EnergyProviderLoader",
    "bundled_plugin_dir",
    "check_required_kit",
    "code_cache_dir",
    "compare_versions",
    "get_energy_provider_loader",
    "init_energy_provider_loader",
    "read_required_kit",
    "read_static_version",
    "validate_plugin_name",
]

log = structlog.get_logger(__name__)

PLUGIN_NAME = re.compile(r"^[a-z0-9_]+_provider\.py$")
#: Longest plugin file name: a file system refuses longer names (ENAMETOOLONG).
MAX_PLUGIN_NAME = 255
PROVIDER_ID = re.compile(r"^[a-z0-9_]+$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
MODULE_PREFIX = "energyd_plugins"
_MAX_ERROR_CHARS = 500
_UPDATABLE = frozenset({PluginState.UPDATE_AVAILABLE, PluginState.NOT_INSTALLED})


# -- pure helpers ---------------------------------------------------------------------------


def bundled_plugin_dir() -> Path:
    """Where the shipped plugin files live (installed wheel first, then the source checkout)."""
    package = Path(energyd.__file__).resolve().parent
    installed = package / "bundled" / "providers" / "energy"
    if installed.is_dir():
        return installed
    return package.parent / "bundled_config" / "providers" / "energy"


def validate_plugin_name(name: object) -> str:
    """Return ``name`` when it is a bare ``[a-z0-9_]+_provider.py`` of at most
    :data:`MAX_PLUGIN_NAME` characters; else PluginNameError."""
    if isinstance(name, str) and len(name) <= MAX_PLUGIN_NAME and PLUGIN_NAME.fullmatch(name):
        return name
    shown = name[:200] if isinstance(name, str) else type(name).__name__
    raise PluginNameError(
        f"refused plugin file name {shown!r}: must be a bare [a-z0-9_]+_provider.py "
        f"of at most {MAX_PLUGIN_NAME} characters"
    )


def _version_key(version: str) -> tuple[int, ...] | None:
    parts = version.strip().removeprefix("v").split(".")
    if all(part.isascii() and part.isdigit() for part in parts):
        return tuple(int(part) for part in parts)
    return None


def compare_versions(left: str, right: str) -> int:
    """-1, 0 or 1; numeric per dotted part when both parse (1.10.0 > 1.9.0), else as strings."""
    left_key, right_key = _version_key(left), _version_key(right)
    if left_key is not None and right_key is not None:
        width = max(len(left_key), len(right_key))
        a = left_key + (0,) * (width - len(left_key))
        b = right_key + (0,) * (width - len(right_key))
        return (a > b) - (a < b)
    return (left > right) - (left < right)


def _required_kit(value: object, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        shown = "not a literal" if value is NOT_LITERAL else repr(value)
        raise PluginLoadError(f"{name}: REQUIRES_KIT must be a whole number >= 1 ({shown})")
    return value


def read_static_version(path: Path) -> str | None:
    """The module-level ``__version__ = "..."`` literal of a file, without importing it.

    A file with a syntax error still yields the version from a plain ``__version__ = "..."``
    line, so a broken deployed copy reports what it was meant to be.
    """
    try:
        source = path.read_bytes()
    except OSError:
        return None
    return static_facts(source, path.name).version


def read_required_kit(path: Path) -> int | None:
    """The module-level ``REQUIRES_KIT = <int>`` of a plugin file, read without importing it.

    ``None`` when the file does not say (a plain v1 plugin) or cannot be read or parsed (the
    import then reports the problem); PluginLoadError when the value is not a whole number
    of at least 1.
    """
    try:
        source = path.read_bytes()
    except OSError:
        return None
    return _required_kit(static_facts(source, path.name).requires_kit, path.name)


def _newer_kit(required: int | None, name: str) -> None:
    if required is not None and required > KIT_VERSION:
        raise PluginLoadError(
            f"{name} needs plugin kit {required}; this energyd has kit {KIT_VERSION}"
        )


def check_required_kit(path: Path) -> int | None:
    """``read_required_kit``, and PluginLoadError when it is newer than :data:`KIT_VERSION`."""
    required = read_required_kit(path)
    _newer_kit(required, path.name)
    return required


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    line = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return line[:_MAX_ERROR_CHARS]


def _plugin_files(directory: Path) -> list[str]:
    """Sorted plugin file names in ``directory``; a missing folder holds none."""
    return sorted(_plugin_stamps(directory))


def _plugin_stamps(directory: Path) -> dict[str, Stamp]:
    """Every plugin file in ``directory`` with its :func:`stamp`; a missing folder holds none.

    One ``scandir`` and a ``stat`` per plugin file: what tells whether anything the status
    says could have changed (see :meth:`EnergyProviderLoader.status`)."""
    found: dict[str, Stamp] = {}
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if not PLUGIN_NAME.fullmatch(entry.name):
                    continue
                try:
                    if entry.is_file():
                        found[entry.name] = stamp(entry.stat())
                except OSError:  # gone since the listing
                    continue
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ProviderError(f"cannot list plugin folder {directory}: {exc}") from exc
    return found


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _atomic_copy(source: Path, target: Path) -> None:
    """Copy ``source`` onto ``target``: temp file beside it, fsync, ``os.replace``."""
    data = source.read_bytes()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


# -- loading one file -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Loaded:
    """The outcome of loading one deployed file."""

    file: str
    module_name: str
    provider: EnergyPriceProvider | None = None
    metadata: EnergyProviderMetadata | None = None
    error: str | None = None


def _import_code(path: Path, module_name: str, source: bytes, code: CodeType | None) -> ModuleType:
    """Execute ``code`` (compiled from ``source``, the file as it is now) as a fresh module;
    ``None``: compile ``source`` here, which raises what is wrong with it."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None:
        raise PluginLoadError(f"cannot build an import spec for {path.name}")
    module = importlib.util.module_from_spec(spec)
    if code is None:
        code = compile(source, str(path), "exec", dont_inherit=True)
    sys.modules[module_name] = module
    try:
        exec(code, module.__dict__)
    except BaseException:
        if sys.modules.get(module_name) is module:
            del sys.modules[module_name]
        raise
    return module


def _provider_class(module: ModuleType, file: str) -> type[EnergyPriceProvider]:
    """The one concrete EnergyPriceProvider subclass defined in ``module``."""
    defined = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, EnergyPriceProvider)
        and obj.__module__ == module.__name__
    ]
    concrete = [cls for cls in defined if not inspect.isabstract(cls)]
    if len(concrete) == 1:
        return concrete[0]
    if concrete:
        names = ", ".join(sorted(cls.__name__ for cls in concrete))
        raise PluginLoadError(f"{file} defines several provider classes: {names}")
    detail = ""
    if defined:
        missing = {cls.__name__: sorted(getattr(cls, "__abstractmethods__", ())) for cls in defined}
        detail = " (abstract: " + "; ".join(f"{k} lacks {', '.join(v)}" for k, v in missing.items())
        detail += ")"
    raise PluginLoadError(f"{file} defines no concrete EnergyPriceProvider subclass{detail}")


def _describe(provider: EnergyPriceProvider) -> EnergyProviderMetadata:
    metadata = provider.get_metadata()
    if not isinstance(metadata, EnergyProviderMetadata):
        raise PluginLoadError(
            f"get_metadata() returned {type(metadata).__name__}, not EnergyProviderMetadata"
        )
    if not isinstance(metadata.provider_id, str) or not PROVIDER_ID.fullmatch(metadata.provider_id):
        raise PluginLoadError(f"provider_id {metadata.provider_id!r} is not [a-z0-9_]+")
    if not isinstance(metadata.version, str):
        raise PluginLoadError(f"version {metadata.version!r} is not a string")
    if not isinstance(metadata.currency, str) or not _CURRENCY.fullmatch(metadata.currency):
        raise PluginLoadError(f"currency {metadata.currency!r} is not a 3-letter ISO 4217 code")
    minutes = metadata.slot_minutes
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 1440:
        raise PluginLoadError(f"slot_minutes {minutes!r} is not a whole number from 1 to 1440")
    try:  # the market's zone and local times: every figure and the scheduler use them
        MarketCalendar.of(
            metadata.market_timezone, metadata.day_start_local, metadata.publish_time_local
        )
    except (TypeError, ValueError, KeyError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise PluginLoadError(f"market calendar: {_one_line(exc)}") from exc
    return metadata


def _load_file(path: Path, sources: PluginSources) -> _Loaded:
    module_name = f"{MODULE_PREFIX}.{path.stem}"
    try:
        facts, source, code = sources.load(path)
        _newer_kit(_required_kit(facts.requires_kit, path.name), path.name)  # before running it
        module = _import_code(path, module_name, source, code)
        try:
            cls = _provider_class(module, path.name)
            provider = cls()
            metadata = _describe(provider)
        except BaseException:
            if sys.modules.get(module_name) is module:
                del sys.modules[module_name]
            raise
    except (Exception, SystemExit) as exc:
        error = _one_line(exc)
        log.warning("plugin.load_failed", file=path.name, error=error, exc_info=exc)
        return _Loaded(path.name, module_name, error=error)
    return _Loaded(path.name, module_name, provider=provider, metadata=metadata)


# -- the loader -----------------------------------------------------------------------------


class EnergyProviderLoader:
    """Owns the deployed plugin folder: deploy, load, report, update."""

    def __init__(
        self, config_dir: Path, bundled_dir: Path | None = None, *, code_cache: Path | None = None
    ) -> None:
        self.deployed_dir: Path = Path(config_dir) / "providers" / "energy"
        self.bundled_dir: Path = Path(bundled_dir) if bundled_dir else bundled_plugin_dir()
        self._loaded: dict[str, _Loaded] = {}
        self._providers: dict[str, EnergyPriceProvider] = {}
        self._metadata: dict[str, EnergyProviderMetadata] = {}
        #: Each file's facts and code, worked out once per content (kept in ``code_cache``
        #: between runs when given: see :mod:`energyd.providers.sources`).
        self.sources = PluginSources(code_cache)
        self._loads = 0
        #: The last status, and the stamps of both folders' files it was made from.
        self._status: tuple[tuple[dict[str, Stamp], dict[str, Stamp]], list[PluginStatus]] | None
        self._status = None

    # -- deploying ---------------------------------------------------------------------------

    def deploy_bundled_if_empty(self) -> list[str]:
        """Copy every bundled plugin when the deployed folder has none; return names copied."""
        if _plugin_files(self.deployed_dir):
            return []
        if not self.bundled_dir.is_dir():
            log.warning("plugin.bundled_missing", folder=str(self.bundled_dir))
        try:
            self.deployed_dir.mkdir(parents=True, exist_ok=True)
            copied: list[str] = []
            for name in _plugin_files(self.bundled_dir):
                target = self.deployed_dir / name
                if target.exists():
                    continue
                _atomic_copy(self.bundled_dir / name, target)
                copied.append(name)
        except OSError as exc:
            raise ProviderError(f"deploying bundled plugins failed: {exc}") from exc
        log.info("plugin.deployed", files=copied, folder=str(self.deployed_dir))
        return copied

    def deploy_wanted(self, plugin_ids: Iterable[str]) -> list[str]:
        """Deploy the bundled ``<id>_provider.py`` of each of ``plugin_ids`` (the plugins the
        configuration names) that no loaded plugin provides and that is not deployed yet
        (energyd was upgraded and ships a plugin the folder has never had); nothing deployed
        is ever overwritten. Loads again when it copied something; returns the names copied."""
        copied: list[str] = []
        for plugin_id in sorted(set(plugin_ids)):
            name = f"{plugin_id}_provider.py"
            if plugin_id in self._providers or not PLUGIN_NAME.fullmatch(name):
                continue
            if not (self.bundled_dir / name).is_file() or (self.deployed_dir / name).exists():
                continue
            self._copy_bundled(name)
            copied.append(name)
        if copied:
            log.info("plugin.deployed", files=copied, reason="named in the configuration")
            self.load_all()
        return copied

    # -- loading -----------------------------------------------------------------------------

    def load_all(self, *, deployed_only: bool = True) -> None:
        """(Re)import every deployed plugin file; a bad file becomes a load error, no more.

        ``deployed_only=False`` (checking a config without writing anything): when nothing is
        deployed yet, import the bundled files where they are instead."""
        folder = self.deployed_dir
        if not deployed_only and not _plugin_files(folder):
            folder = self.bundled_dir
        files = _plugin_files(folder)
        self._drop_modules()
        self.sources.forget()  # a reload reads every file afresh
        install_import_aliases()
        loaded: dict[str, _Loaded] = {}
        providers: dict[str, EnergyPriceProvider] = {}
        metadata: dict[str, EnergyProviderMetadata] = {}
        owners: dict[str, str] = {}
        for name in files:
            result = _load_file(folder / name, self.sources)
            meta, provider = result.metadata, result.provider
            if provider is not None and meta is not None:
                owner = owners.get(meta.provider_id)
                if owner is not None:
                    error = f"PluginLoadError: provider_id {meta.provider_id!r} is already "
                    error += f"provided by {owner}"
                    log.warning("plugin.load_failed", file=name, error=error)
                    sys.modules.pop(result.module_name, None)
                    result = _Loaded(name, result.module_name, metadata=meta, error=error)
                else:
                    owners[meta.provider_id] = name
                    providers[meta.provider_id] = provider
                    metadata[meta.provider_id] = meta
                    log.info(
                        "plugin.loaded", file=name, provider=meta.provider_id, version=meta.version
                    )
            loaded[name] = result
        self._loaded = loaded
        self._providers = providers
        self._metadata = metadata
        self._loads += 1
        self._status = None

    def reload(self) -> None:
        """Forget every loaded module and instance, then load the deployed folder again."""
        self.load_all()

    def _drop_modules(self) -> None:
        for result in self._loaded.values():
            sys.modules.pop(result.module_name, None)
        self._loads += 1
        self._status = None
        self._loaded = {}
        self._providers = {}
        self._metadata = {}

    # -- lookups -----------------------------------------------------------------------------

    @property
    def loads(self) -> int:
        """How often the plugins were (un)loaded: a change means :attr:`providers` may hold
        other instances (what the registry takes its plugins from)."""
        return self._loads

    @property
    def providers(self) -> Mapping[str, EnergyPriceProvider]:
        """provider_id -> instance, for every plugin that loaded cleanly."""
        return MappingProxyType(self._providers)

    def get(self, provider_id: str) -> EnergyPriceProvider:
        try:
            return self._providers[provider_id]
        except KeyError:
            known = ", ".join(sorted(self._providers)) or "none"
            raise UnknownProviderError(
                f"no loaded energy provider {provider_id!r} (loaded: {known})"
            ) from None

    def metadata(self, provider_id: str) -> EnergyProviderMetadata:
        """The metadata the plugin gave when it was loaded."""
        self.get(provider_id)
        return self._metadata[provider_id]

    # -- status and versions -----------------------------------------------------------------

    def _deployed_version(self, name: str) -> str | None:
        result = self._loaded.get(name)
        if result is not None and result.metadata is not None:
            return result.metadata.version
        return self.sources.version(self.deployed_dir / name)

    def _kit_of(self, path: Path) -> int | None:
        try:
            facts = self.sources.facts(path)
            return None if facts is None else _required_kit(facts.requires_kit, path.name)
        except PluginLoadError:
            return None  # the load error says so

    def _status_of(self, name: str, deployed: bool, bundled: bool) -> PluginStatus:
        bundled_version = self.sources.version(self.bundled_dir / name) if bundled else None
        if not deployed:
            return PluginStatus(
                name,
                PluginState.NOT_INSTALLED,
                bundled_version=bundled_version,
                kit=self._kit_of(self.bundled_dir / name),
            )
        result = self._loaded.get(name)
        meta = result.metadata if result else None
        deployed_version = self._deployed_version(name)
        if result is None:
            error: str | None = "not loaded yet (added after the last reload)"
        else:
            error = result.error
        if result is not None and result.error is not None:
            state = PluginState.LOAD_ERROR
        elif not bundled:
            state = PluginState.LOCAL
        elif bundled_version is not None and (
            deployed_version is None or compare_versions(bundled_version, deployed_version) > 0
        ):
            state = PluginState.UPDATE_AVAILABLE
        else:
            state = PluginState.UP_TO_DATE
        return PluginStatus(
            file=name,
            state=state,
            provider_id=meta.provider_id if meta else None,
            display_name=meta.display_name if meta else None,
            deployed_version=deployed_version,
            bundled_version=bundled_version,
            error=error,
            kit=self._kit_of(self.deployed_dir / name),
        )

    def status(self) -> list[PluginStatus]:
        """One entry per plugin file in the bundled and deployed folders, by file name.

        Made again only when a file in either folder changed (its :data:`Stamp`), came or went,
        or the plugins were loaded again: otherwise it is the last one, for the cost of listing
        both folders (the ``health`` command and every ``providers`` publish ask for it)."""
        stamps = (_plugin_stamps(self.deployed_dir), _plugin_stamps(self.bundled_dir))
        if self._status is not None and self._status[0] == stamps:
            return list(self._status[1])
        deployed, bundled = stamps
        entries = [
            self._status_of(name, name in deployed, name in bundled)
            for name in sorted(deployed.keys() | bundled.keys())
        ]
        self._status = (stamps, entries)
        return list(entries)

    def failed(self) -> list[str]:
        """The files whose last load failed (the ``load_error`` entries of :meth:`status`,
        without listing either folder: a file's state changes only when it is loaded)."""
        return [name for name, result in self._loaded.items() if result.error is not None]

    def missing(self, provider_id: str) -> str | None:
        """Why no loaded plugin provides ``provider_id`` (its file failed to load, or there is
        none), or ``None`` when one does."""
        if provider_id in self._providers:
            return None
        for status in self.status():
            if status.state is PluginState.LOAD_ERROR and (
                status.provider_id == provider_id or status.file == f"{provider_id}_provider.py"
            ):
                return f"plugin {status.file} failed to load: {status.error}"
        name = f"{provider_id}_provider.py"
        if (self.bundled_dir / name).is_file() and not (self.deployed_dir / name).exists():
            return (
                f"no plugin provides {provider_id!r} in {self.deployed_dir}: {name} ships with "
                "energyd and is deployed when the daemon starts (or now: energyd providers "
                f"update {name})"
            )
        return f"no plugin provides {provider_id!r}"

    # -- updating ----------------------------------------------------------------------------

    def _copy_bundled(self, name: str) -> None:
        try:
            self.deployed_dir.mkdir(parents=True, exist_ok=True)
            _atomic_copy(self.bundled_dir / name, self.deployed_dir / name)
        except OSError as exc:
            raise ProviderError(f"copying {name} to {self.deployed_dir} failed: {exc}") from exc
        finally:
            self.sources.forget(self.deployed_dir / name)  # its stamp changes too: belt and braces
        log.info("plugin.copied", file=name, folder=str(self.deployed_dir))

    def update(self, name: str) -> tuple[str | None, str | None]:
        """Copy the bundled ``name`` over the deployed one and reload; (before, after)."""
        name = validate_plugin_name(name)
        if not (self.bundled_dir / name).is_file():
            raise UnknownProviderError(f"no bundled plugin file {name!r}")
        before = self._deployed_version(name) if (self.deployed_dir / name).exists() else None
        try:
            self._copy_bundled(name)
        finally:
            self.reload()
        return before, self._deployed_version(name)

    def _needs_update(self, entry: PluginStatus) -> bool:
        if entry.state in _UPDATABLE:
            return True
        bundled = self.bundled_dir / entry.file
        if entry.state is not PluginState.LOAD_ERROR or not bundled.is_file():
            return False
        # A broken copy of a bundled plugin is repaired, unless it already is the bundled file.
        try:
            return bundled.read_bytes() != (self.deployed_dir / entry.file).read_bytes()
        except OSError:
            return True

    def pending_updates(self) -> list[str]:
        """Bundled files that ``update_all`` would copy now."""
        return [entry.file for entry in self.status() if self._needs_update(entry)]

    def update_all(self) -> list[tuple[str, str | None, str | None]]:
        """Update every bundled file that needs it; reload once; [(name, before, after)]."""
        names = self.pending_updates()
        if not names:
            return []
        befores: dict[str, str | None] = {}
        try:
            for name in names:
                exists = (self.deployed_dir / name).exists()
                befores[name] = self._deployed_version(name) if exists else None
                self._copy_bundled(name)
        finally:
            self.reload()
        return [(name, befores[name], self._deployed_version(name)) for name in names]


# -- module-level access --------------------------------------------------------------------


def code_cache_dir(config_dir: Path) -> Path:
    """Where the daemon keeps its plugins' compiled code: ``<config_dir>/cache/plugins``
    (safe to delete at any time; see :mod:`energyd.providers.sources`)."""
    return config_dir / "cache" / "plugins"


_loader: EnergyProviderLoader | None = None


def init_energy_provider_loader(
    config_dir: Path | str,
    bundled_dir: Path | None = None,
    *,
    deploy: bool = True,
    wanted: Iterable[str] = (),
) -> EnergyProviderLoader:
    """Create the process-wide loader, deploy bundled plugins if needed, load them.

    An empty folder gets every bundled plugin; one that has some gets those of ``wanted``
    (the plugin ids the configuration names) it lacks, never overwriting one
    (:meth:`EnergyProviderLoader.deploy_wanted`). ``deploy=False`` writes nothing: the
    deployed files are loaded, or the bundled ones in place when none are deployed
    (``check-config``, ``region``). With ``deploy``, the plugins' compiled code is kept in
    :func:`code_cache_dir` for the next start."""
    global _loader  # one loader per process, as the contract describes
    cache = code_cache_dir(Path(config_dir)) if deploy else None
    loader = EnergyProviderLoader(Path(config_dir), bundled_dir, code_cache=cache)
    if deploy:
        loader.deploy_bundled_if_empty()
    loader.load_all(deployed_only=deploy)
    if deploy:
        loader.deploy_wanted(wanted)
    _loader = loader
    return loader


def get_energy_provider_loader() -> EnergyProviderLoader:
    """The loader made by :func:`init_energy_provider_loader`; RuntimeError before that."""
    if _loader is None:
        raise RuntimeError(
            "energy provider loader not initialised; call init_energy_provider_loader"
        )
    return _loader
