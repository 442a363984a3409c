"""A plugin file's source, worked out once per content: what it says of itself without
running it (``__version__``, ``REQUIRES_KIT``) and its compiled code.

Reading those facts means parsing the file (:mod:`ast`) and running it means compiling it:
~17 ms and ~10 ms for the 45 KB Octopus plugin, some 110 ms for the ten bundled plugins at
every start, and as much again for the bundled copies a status compares them with.
:class:`PluginSources` does each once per content of a file:

- in memory, per version of a file (its :data:`Stamp`) and per content (a SHA-256 of its
  bytes): a deployed copy and the bundled file it came from are worked out once between them;
- on disk, when given a ``cache_dir``: the facts and the code, so the next start reads about
  a millisecond of :mod:`marshal` data instead of parsing. An entry is matched by the digest
  of the file's content (unlike a ``.pyc``, which trusts size and modification time: an
  edit in place is always seen), the file's path, the interpreter's bytecode and
  optimisation level, and a digest of its own code bytes. Anything else -- another content,
  path or Python, a truncated or foreign file -- is a miss, and replaced. Entries are written
  to a temporary file and moved into place (:func:`os.replace`); a folder that cannot be
  written only means no cache.

The facts follow the source's syntax tree: the literal last assigned to the name at module
level (annotated or not); an expression (``1 + 1``) is :data:`NOT_LITERAL`. A file that
does not parse still yields the version of a plain ``__version__ = "..."`` line, so a broken
deployed copy reports what it was meant to be.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib.util
import marshal
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import CodeType

import structlog

__all__ = [
    "NOT_LITERAL",
    "PluginSources",
    "Stamp",
    "StaticFacts",
    "stamp",
    "static_facts",
]

log = structlog.get_logger(__name__)

_VERSION_LINE = re.compile(
    r"""^__version__\s*(?::\s*str\s*)?=\s*(['"])([^'"\n]*)\1\s*(?:#.*)?$""", re.MULTILINE
)

#: What :attr:`StaticFacts.requires_kit` is when the name is assigned an expression.
NOT_LITERAL: object = type("NotLiteral", (), {"__repr__": lambda self: "NOT_LITERAL"})()

#: The first bytes of a cache entry: the interpreter's bytecode magic and our format.
_HEAD = importlib.util.MAGIC_NUMBER + b"energyd plugin code 1\n"


@dataclass(frozen=True, slots=True)
class StaticFacts:
    """What a plugin file says of itself at module level, read without running it."""

    #: The ``__version__ = "..."`` literal (``None``: the file does not say).
    version: str | None
    #: What ``REQUIRES_KIT`` is assigned: a literal, ``None`` when the file does not say (or
    #: does not parse), or :data:`NOT_LITERAL` for an expression.
    requires_kit: object


Stamp = tuple[int, int, int, int, int]
"""What tells one version of a file from the next: device, inode, size, modification and
change times (ns). A deploy or update (``os.replace``: a new inode), an edit in place (a new
change time, even with the modification time put back) and a file gone all change it."""


def stamp(info: os.stat_result) -> Stamp:
    """The :data:`Stamp` of a file from its ``stat``."""
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _module_constant(tree: ast.Module, name: str) -> object:
    """The literal last assigned to ``name`` at module level (``None`` when there is none)."""
    found: object = None
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets = [node.target]
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            value = node.value
            found = value.value if isinstance(value, ast.Constant) else NOT_LITERAL
    return found


def _facts_of(tree: ast.Module) -> StaticFacts:
    version = _module_constant(tree, "__version__")
    return StaticFacts(
        version if isinstance(version, str) else None, _module_constant(tree, "REQUIRES_KIT")
    )


def _broken_facts(source: bytes) -> StaticFacts:
    """The facts of a file that does not parse: the version of a plain line, no kit."""
    match = _VERSION_LINE.search(source.decode("utf-8", errors="replace"))
    return StaticFacts(match.group(2) if match else None, None)


def static_facts(source: bytes, name: str) -> StaticFacts:
    """What ``source`` says of itself (one parse; see the module doc)."""
    try:
        tree = ast.parse(source, filename=name)
    except (SyntaxError, ValueError):
        return _broken_facts(source)
    return _facts_of(tree)


def _compiled(source: bytes, path: Path) -> tuple[StaticFacts, CodeType | None]:
    """One parse of ``source`` for both its facts and its code (``None``: it does not
    compile; running it reports why)."""
    try:
        tree = ast.parse(source, filename=str(path))
    except (SyntaxError, ValueError):
        return _broken_facts(source), None
    facts = _facts_of(tree)
    try:
        return facts, compile(tree, str(path), "exec", dont_inherit=True)
    except (SyntaxError, ValueError):  # what only the compiler finds ('return' outside def)
        return facts, None


@dataclass(frozen=True, slots=True)
class _Known:
    stamp: Stamp
    digest: bytes
    facts: StaticFacts


class PluginSources:
    """The facts and code of plugin files, each worked out once per content (module doc)."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        #: Where compiled entries are kept between runs (``None``: in memory only).
        self.cache_dir = cache_dir
        self._by_path: dict[Path, _Known] = {}
        self._by_digest: dict[bytes, StaticFacts] = {}

    # -- facts ------------------------------------------------------------------------------

    def facts(self, path: Path) -> StaticFacts | None:
        """What ``path`` says, or ``None`` when it cannot be read."""
        try:
            info = path.stat()
        except OSError:
            self._by_path.pop(path, None)
            return None
        now = stamp(info)  # taken before reading: a file replaced meanwhile is read again
        known = self._by_path.get(path)
        if known is not None and known.stamp == now:
            return known.facts
        try:
            source = path.read_bytes()
        except OSError:
            self._by_path.pop(path, None)
            return None
        digest = hashlib.sha256(source).digest()
        facts = self._by_digest.get(digest)
        if facts is None:
            facts = self._work_out(path, source, digest)[0]
        self._keep(path, now, digest, facts)
        return facts

    def version(self, path: Path) -> str | None:
        """The ``__version__`` literal of ``path`` (``None``: unreadable, or it does not say)."""
        facts = self.facts(path)
        return None if facts is None else facts.version

    def forget(self, path: Path | None = None) -> None:
        """Read ``path`` (default: every file) again next time; content already worked out
        is not parsed again."""
        if path is None:
            self._by_path.clear()
        else:
            self._by_path.pop(path, None)

    # -- code -------------------------------------------------------------------------------

    def load(self, path: Path) -> tuple[StaticFacts, bytes, CodeType | None]:
        """The facts, bytes and code of ``path`` as it is now (the code ``None`` when it does
        not compile: compiling ``bytes`` says why). OSError when it cannot be read."""
        info = path.stat()
        source = path.read_bytes()
        digest = hashlib.sha256(source).digest()
        facts, code = self._work_out(path, source, digest)
        self._keep(path, stamp(info), digest, facts)
        return facts, source, code

    def _keep(self, path: Path, now: Stamp, digest: bytes, facts: StaticFacts) -> None:
        self._by_path[path] = _Known(now, digest, facts)
        self._by_digest[digest] = facts

    def _work_out(
        self, path: Path, source: bytes, digest: bytes
    ) -> tuple[StaticFacts, CodeType | None]:
        entry = self._entry(path)
        if entry is not None:
            cached = _read_entry(entry, digest, path)
            if cached is not None:
                return cached
        facts, code = _compiled(source, path)
        if entry is not None and code is not None:
            _write_entry(entry, digest, path, facts, code)
        return facts, code

    def _entry(self, path: Path) -> Path | None:
        """The cache entry of ``path`` (one per path: a new content replaces the old)."""
        tag = sys.implementation.cache_tag
        if self.cache_dir is None or tag is None:
            return None
        where = hashlib.sha256(os.fsencode(path.absolute())).hexdigest()[:12]
        return self.cache_dir / f"{path.stem}-{where}.{tag}.bin"


def _head(digest: bytes, path: Path, facts: StaticFacts, code_digest: bytes) -> bytes:
    """The entry's head: what it is for (content, path, optimisation), its code's digest and
    the facts (``REQUIRES_KIT`` as whether it is a literal, and the literal)."""
    literal = facts.requires_kit is not NOT_LITERAL
    kit = facts.requires_kit if literal else None
    fields = (digest, str(path), sys.flags.optimize, code_digest, facts.version, literal, kit)
    return marshal.dumps(fields)  # type: ignore[arg-type]  # a literal of the source's


def _read_entry(entry: Path, digest: bytes, path: Path) -> tuple[StaticFacts, CodeType] | None:
    """The facts and code kept in ``entry`` for this content of ``path``, or ``None``."""
    try:
        data = entry.read_bytes()
    except OSError:
        return None
    start = len(_HEAD) + 4
    if not data.startswith(_HEAD) or len(data) < start:
        return None
    size = int.from_bytes(data[len(_HEAD) : start], "little")
    try:
        head = marshal.loads(data[start : start + size])
        body = data[start + size :]
        if not isinstance(head, tuple) or len(head) != 7:
            return None
        if hashlib.sha256(body).digest() != head[3]:
            return None
        code = marshal.loads(body)
    except (EOFError, ValueError, TypeError):
        return None
    kept_digest, kept_path, optimize, _, version, literal, kit = head
    if (kept_digest, kept_path, optimize) != (digest, str(path), sys.flags.optimize):
        return None
    if not isinstance(code, CodeType) or not (version is None or isinstance(version, str)):
        return None
    return StaticFacts(version, kit if literal else NOT_LITERAL), code


def _write_entry(
    entry: Path, digest: bytes, path: Path, facts: StaticFacts, code: CodeType
) -> None:
    """Keep ``facts`` and ``code`` in ``entry``: written whole or not at all."""
    body = marshal.dumps(code)
    head = _head(digest, path, facts, hashlib.sha256(body).digest())
    tmp: str | None = None
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{entry.name}.", suffix=".tmp", dir=entry.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(_HEAD + len(head).to_bytes(4, "little") + head + body)
        os.replace(tmp, entry)
    except (OSError, ValueError) as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        log.debug("plugin.cache_unwritable", entry=str(entry), error=str(exc))
