"""Desired state from YAML files: a tree of multi-document files, as kept in git.

Every problem becomes one `LoadError` line, `FILE:LINE:COL: Kind/name: field: message`,
and all of them are reported, not just the first. A file with any error is *held*: its
resources are left out and the planner keeps what that file owned until it is fixed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from watchfiles._rust_notify import RustNotify

from controller.api.desired import AnyResource, Desired, assemble
from controller.api.kinds import API_VERSION, KINDS, Ref, parse_resource, ref

MAX_FILE_BYTES = 1 << 20
MAX_FILES = 10_000
MAX_NODES_PER_DOCUMENT = 100_000
SUFFIXES = (".yaml", ".yml")

Position = tuple[int, int]


@dataclass(frozen=True)
class LoadError:
    file: str
    line: int
    col: int
    subject: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}"
        parts = [where, self.subject, self.field, self.message]
        return ": ".join(p for p in parts if p)


@dataclass
class LoadResult:
    desired: Desired
    errors: list[LoadError] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


@dataclass
class _Document:
    resource: AnyResource
    file: str
    parsed: CommentedMap | None = None  # the round-trip tree, when the file needed one
    text: str = ""  # otherwise the file's text, and which document of it this is
    index: int = 0

    @property
    def tree(self) -> CommentedMap:
        """Lines and columns, for errors only: the fast loader keeps none, so parse again."""
        if self.parsed is None:
            trees = YAML(typ="rt").load_all(self.text)
            self.parsed = next(t for i, t in enumerate(trees, start=1) if i == self.index)
        return self.parsed


def discover(paths: Sequence[Path]) -> list[Path]:
    """YAML files under the given files and directories, hidden entries skipped."""
    found: list[Path] = []
    for root in paths:
        if root.is_dir():
            found.extend(
                p
                for p in sorted(root.rglob("*"))
                if p.suffix in SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(root).parts)
            )
        else:
            found.append(root)
    return found[: MAX_FILES + 1]


def load(paths: Sequence[Path]) -> LoadResult:
    """Load every document under `paths` into a desired-state snapshot (one shot)."""
    return FileSource(paths).load()


@dataclass
class _FileLoad:
    """One file's documents and errors, kept while its contents stay the same."""

    digest: bytes
    documents: list[_Document]
    errors: list[LoadError]
    declared: set[Ref]  # every identity the file claims, valid or not


class FileSource:
    """Documents under `paths`, reloaded on demand; unchanged files are not parsed again.

    A file that breaks after it once loaded cleanly keeps its last good documents in
    force, so a typo saved in an editor changes nothing in MediaMTX until it is fixed.
    """

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = list(paths)
        self._loads: dict[str, _FileLoad] = {}
        self._last_good: dict[str, list[_Document]] = {}
        self._result: tuple[Any, LoadResult] | None = None

    def load(self) -> LoadResult:
        files = discover(self.paths)
        errors: list[LoadError] = []
        if len(files) > MAX_FILES:
            errors.append(
                LoadError(str(self.paths[0]), 0, 0, "", "", f"more than {MAX_FILES} files")
            )
            files = files[:MAX_FILES]
        self._loads = {str(f): self._load_file(f) for f in files}
        if self._result is not None and not errors and self.fingerprint == self._result[0]:
            return self._result[1]  # the same files with the same contents: the same result
        self._last_good = {f: self._last_good[f] for f in self._loads if f in self._last_good}
        in_force, declared, held = [], set(), set()
        for name, loaded in self._loads.items():
            errors.extend(loaded.errors)
            declared |= loaded.declared
            if not loaded.errors:
                self._last_good[name] = loaded.documents
            elif name in self._last_good:
                errors.append(
                    LoadError(
                        name, 1, 1, "", "", "has errors: its last good version stays in force"
                    )
                )
            else:
                held.add(name)
            in_force.extend(self._last_good.get(name, loaded.documents))
        documents, dup_errors = _without_duplicates(in_force)
        errors.extend(dup_errors)
        held |= {e.file for e in dup_errors}
        desired, problems = assemble(((d.resource, d.file) for d in documents), held, declared)
        by_ref = {ref(d.resource): d for d in documents}
        for problem in problems:
            doc = by_ref[problem.ref]
            errors.append(_error(doc, tuple(problem.field.split(".")), problem.message))
        errors.sort(key=lambda e: (e.file, e.line, e.col))
        result = LoadResult(desired, errors, [str(f) for f in files])
        self._result = (self.fingerprint, result)
        return result

    @property
    def fingerprint(self) -> tuple[tuple[str, bytes], ...]:
        """Changes exactly when a file's contents, or the set of files, changed."""
        return tuple((name, loaded.digest) for name, loaded in self._loads.items())

    async def watch(self, notify: Callable[[str], None]) -> None:
        """Call `notify` when anything under the paths changes, until cancelled.

        Directories are watched, not files: editors save by rename, `git checkout` swaps
        files, Kubernetes swaps a ConfigMap's `..data` symlink. Contents are compared by
        `load`, so a notification for a touch costs one hash per file.
        """
        await watch_paths([self.watch_group], notify)

    @property
    def watch_group(self) -> WatchGroup:
        return self.paths, "files"

    def _load_file(self, path: Path) -> _FileLoad:
        name = str(path)
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                error = LoadError(name, 1, 1, "", "", f"larger than {MAX_FILE_BYTES} bytes")
                return _FileLoad(b"", [], [error], set())
            data = path.read_bytes()
        except OSError as exc:
            return _FileLoad(b"", [], [LoadError(name, 1, 1, "", "", f"cannot read: {exc}")], set())
        digest = hashlib.sha256(data).digest()
        cached = self._loads.get(name)
        if cached is not None and cached.digest == digest:
            return cached
        loaded = _FileLoad(digest, [], [], set())
        loaded.documents = list(_parse_file(name, data, loaded.errors, loaded.declared))
        return loaded


WatchGroup = tuple[Sequence[Path], str]  # paths, and the word that names them in a reason
# watchfiles' own defaults (1,600 and 50 ms) would be slow to notice an edit.
DEBOUNCE_MS, STEP_MS = 50, 20


async def watch_paths(groups: Sequence[WatchGroup], notify: Callable[[str], None]) -> None:
    """Notify, per group, on changes that can matter to its paths, with one watcher for all.

    watchfiles' Rust backend wakes every `STEP_MS` even when nothing changes: that step is
    the latency (a change waits for one step to be seen and one more to be over) and the
    idle cost. So there is one watcher for all the folders, driven through RustNotify
    (watchfiles' documented backend) on a thread of its own, without the stop event that
    awatch() has it call into Python at every step (that call was a third of the thread's
    idle CPU here); the thread looks at `stop` between calls, which return every second.
    """
    filters = [(_relevance(paths), what) for paths, what in groups]
    roots = sorted({str((p if p.is_dir() else p.parent).absolute()) for g in groups for p in g[0]})
    loop = asyncio.get_running_loop()
    stop = threading.Event()

    def relay(changes: set[tuple[int, str]]) -> None:
        for matches, what in filters:
            names = sorted({Path(p).name for _, p in changes if matches(p)})
            if names:
                notify(f"{what}: {', '.join(names[:5])}{' …' if len(names) > 5 else ''} changed")

    def watch() -> None:
        with RustNotify(roots, False, False, 0, True, False) as watcher:
            while not stop.is_set():
                changes = watcher.watch(DEBOUNCE_MS, STEP_MS, 1000, None)
                if isinstance(changes, set) and not stop.is_set():  # else "timeout"
                    loop.call_soon_threadsafe(relay, changes)

    failed: asyncio.Future[None] = loop.create_future()

    def fail(exc: Exception) -> None:
        if not failed.done():
            failed.set_exception(exc)

    def run() -> None:
        try:
            watch()
        except Exception as exc:  # e.g. a folder removed: the caller logs it
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: no caller
                loop.call_soon_threadsafe(fail, exc)

    threading.Thread(target=run, name="camctl-file-watch", daemon=True).start()
    try:
        await failed
    finally:
        stop.set()


def _relevance(paths: Sequence[Path]) -> Callable[[str], bool]:
    """Which changed paths can matter to `paths`; other files in their folders do not."""
    dirs = [str(p.absolute()) for p in paths if p.is_dir()]
    files = {str(p.absolute()) for p in paths if not p.is_dir()}

    def matches(changed: str) -> bool:
        path = Path(changed)
        if path.name.startswith(".."):  # a Kubernetes ConfigMap swapping its ..data link
            return any(changed.startswith(root + "/") for root in [*dirs, *map(_parent, files)])
        for d in dirs:
            if changed.startswith(d + "/"):
                # YAML files, or folders moving; not what hides in .git and other dot folders.
                hidden = any(part.startswith(".") for part in Path(changed[len(d) + 1 :]).parts)
                return not hidden and (path.suffix in SUFFIXES or not path.suffix)
        return changed in files

    return matches


def _parent(path: str) -> str:
    return str(Path(path).parent)


def _without_duplicates(documents: list[_Document]) -> tuple[list[_Document], list[LoadError]]:
    seen: dict[Ref, _Document] = {}
    errors = []
    for doc in documents:
        first = seen.setdefault(ref(doc.resource), doc)
        if first is not doc:
            line, _ = _position(first.tree, ())
            message = f"duplicate: declared at {first.file}:{line}"
            errors.append(_error(doc, ("metadata", "name"), message))
    return list(seen.values()), errors


def _parse_file(
    name: str, data: bytes, errors: list[LoadError], declared: set[Ref]
) -> Iterator[_Document]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        errors.append(LoadError(name, 1, 1, "", "", f"cannot read: {exc}"))
        return
    fast = _parse_fast(name, text)
    if fast is not None:
        declared.update(ref(doc.resource) for doc in fast)
        yield from fast
        return
    try:
        trees = list(YAML(typ="rt").load_all(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        errors.append(LoadError(name, line, col, "", "", f"invalid YAML: {message}"))
        return
    for index, tree in enumerate(trees, start=1):
        if tree is None:
            continue  # an empty document, as after a trailing `---`
        if (named := _ref_of(tree)) is not None:
            declared.add(named)
        doc = _parse(name, index, tree, errors)
        if doc is not None:
            yield doc


def _parse_fast(name: str, text: str) -> list[_Document] | None:
    """A file without any problem, through ruamel's C loader (no positions); None at the
    first problem, and the round-trip loader then finds and places every one."""
    try:
        trees = list(YAML(typ="safe").load_all(text))
    except YAMLError:
        return None
    documents = []
    for index, tree in enumerate(trees, start=1):
        if tree is None:
            continue
        if not isinstance(tree, dict) or _check_header(tree.get("kind"), tree.get("apiVersion")):
            return None
        plain = _plain(tree, [0])
        if plain is None:
            return None
        try:
            resource = parse_resource(plain)
        except ValidationError:
            return None
        documents.append(_Document(resource, name, text=text, index=index))
    return documents


def _parse(file: str, index: int, tree: Any, errors: list[LoadError]) -> _Document | None:
    if not isinstance(tree, CommentedMap):
        line, col = _position(tree, ())
        errors.append(LoadError(file, line, col, f"document {index}", "", "must be a mapping"))
        return None
    subject = _subject(tree, index)
    kind, version = tree.get("kind"), tree.get("apiVersion")
    header = _check_header(kind, version)
    if header:
        line, col = _position(tree, (header[0],))
        errors.append(LoadError(file, line, col, subject, *header))
        return None
    plain = _plain(tree, [0])
    if plain is None:
        errors.append(LoadError(file, 1, 1, subject, "", "document is too large"))
        return None
    try:
        resource = parse_resource(plain)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"][1:])  # the first item is the union's tag (the kind)
            line, col = _position(tree, loc)
            dotted = ".".join(str(p) for p in loc)
            errors.append(LoadError(file, line, col, subject, dotted, validation_message(err)))
        return None
    return _Document(resource, file, parsed=tree)


def _error(doc: _Document, loc: tuple[str, ...], message: str) -> LoadError:
    line, col = _position(doc.tree, loc)
    return LoadError(doc.file, line, col, str(ref(doc.resource)), ".".join(loc), message)


def _check_header(kind: object, version: object) -> tuple[str, str] | None:
    if version != API_VERSION:
        return "apiVersion", f"must be {API_VERSION}, not {version!r}"
    if kind not in KINDS:
        return "kind", f"must be one of {', '.join(KINDS)}, not {kind!r}"
    return None


def _subject(tree: CommentedMap, index: int) -> str:
    kind = tree.get("kind") if isinstance(tree.get("kind"), str) else "document"
    meta = tree.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(name, str):
        return f"{kind} {index}" if kind != "document" else f"document {index}"
    ns = meta.get("namespace") if isinstance(meta, dict) else None
    return str(Ref(kind, ns if isinstance(ns, str) else "default", name))


def _ref_of(tree: Any) -> Ref | None:
    """The identity a document claims, even when it failed validation."""
    if not isinstance(tree, dict) or not isinstance(meta := tree.get("metadata"), dict):
        return None
    kind, name, ns = tree.get("kind"), meta.get("name"), meta.get("namespace", "default")
    if isinstance(kind, str) and isinstance(name, str) and isinstance(ns, str):
        return Ref(kind, ns, name)
    return None


def validation_message(err: Any) -> str:
    """A pydantic error as a document's author should read it."""
    if err["type"] == "extra_forbidden":
        return "unknown field"
    message = str(err["msg"])
    return message.removeprefix("Value error, ")


def _position(tree: Any, loc: Iterable[Any]) -> Position:
    """1-based line and column of the deepest node of `loc` present in the YAML tree."""
    node, line, col = tree, 0, 0
    if hasattr(tree, "lc"):
        line, col = tree.lc.line, tree.lc.col
    for key in loc:
        if isinstance(node, CommentedMap) and key in node:
            line, col = node.lc.key(key)
            node = node[key]
        elif isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
            line, col = node.lc.item(key)
            node = node[key]
        else:
            break
    return line + 1, col + 1


def _plain(node: Any, budget: list[int]) -> Any:
    """Plain Python values, refusing documents that expand too far (alias bombs)."""
    budget[0] += 1
    if budget[0] > MAX_NODES_PER_DOCUMENT:
        return None
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            plain = _plain(value, budget)
            if plain is None and value is not None:
                return None
            out[str(key)] = plain
        return out
    if isinstance(node, list):
        items = [_plain(v, budget) for v in node]
        if budget[0] > MAX_NODES_PER_DOCUMENT:
            return None
        return items
    return node
