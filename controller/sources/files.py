"""Desired state from YAML files: a tree of multi-document files, as kept in git.

Every problem becomes one `LoadError` line, `FILE:LINE:COL: Kind/name: field: message`,
and all of them are reported, not just the first. Any error makes the load unclean
(`Desired.clean` is False), and an unclean desired state never deletes a path nor turns a
recording off (see the planner). A file that breaks after it once loaded cleanly keeps its
last good documents in force. Only regular YAML files inside the given folders are read,
within the bounds of `controller.kit.yamlfile`; anything else where a document was (a FIFO,
a directory, a dangling link) is an error, not an empty file.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap

from controller.api.desired import AnyResource, Rejection, assemble
from controller.api.kinds import API_VERSION, KINDS, Ref, parse_resource, ref
from controller.api.loading import LoadError, LoadResult, validation_message
from controller.kit import yamlfile
from controller.kit.watch import SUFFIXES, WatchGroup, watch_paths
from controller.kit.yamlfile import MAX_FILE_BYTES, Refused

MAX_FILES = 10_000

__all__ = ["MAX_FILES", "MAX_FILE_BYTES", "FileSource", "load"]


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
            trees = yamlfile.load_positioned(self.text)
            self.parsed = trees[self.index - 1]
        return self.parsed


@dataclass(frozen=True)
class Found:
    """A file to read as documents, and the folder it was found in (None: given by name)."""

    path: Path
    tree: Path | None = None


def discover(paths: Sequence[Path]) -> tuple[list[Found], list[LoadError]]:
    """The YAML files under the given files and folders, hidden entries skipped.

    Every entry named like a YAML file counts, whatever it is: reading a FIFO or a folder
    named `streams.yaml` is then an error that holds its resources, not a silent skip that
    would remove them. A file reached twice (two spellings of one folder) is read once.
    """
    found: dict[str, Found] = {}
    errors = []
    for root in paths:
        if root.is_dir():
            for path in _walk(root):
                found.setdefault(os.path.realpath(path), Found(path, root))
        elif root.exists() or root.is_symlink():
            found.setdefault(os.path.realpath(root), Found(root))
        else:
            errors.append(LoadError(str(root), 1, 1, "", "", "no such file or folder"))
    files = sorted(found.values(), key=lambda f: str(f.path))
    return files, errors


def _walk(root: Path) -> Iterator[Path]:
    seen: set[tuple[int, int]] = set()
    for folder, dirs, names in os.walk(root, followlinks=True):
        info = os.stat(folder)
        if (info.st_dev, info.st_ino) in seen:  # a link back up the tree
            dirs.clear()
            continue
        seen.add((info.st_dev, info.st_ino))
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in [*names, *dirs]:
            if name.endswith(SUFFIXES) and not name.startswith("."):
                yield Path(folder, name)


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
    rejected: dict[Ref, Rejection] = field(default_factory=dict)  # and why invalid ones are


class FileSource:
    """Documents under `paths`, reloaded on demand; unchanged files are not parsed again.

    A file that breaks after it once loaded cleanly keeps its last good documents in
    force, so a typo saved in an editor changes nothing in MediaMTX until it is fixed.
    `follow_links` lets links lead to files outside the given folders.
    """

    def __init__(self, paths: Sequence[Path], *, follow_links: bool = False) -> None:
        self.paths = list(paths)
        self.follow_links = follow_links
        self._loads: dict[str, _FileLoad] = {}
        self._last_good: dict[str, list[_Document]] = {}
        self._result: tuple[Any, LoadResult] | None = None

    def load(self) -> LoadResult:
        files, errors = discover(self.paths)
        if len(files) > MAX_FILES:
            errors.append(
                LoadError(str(self.paths[0]), 1, 1, "", "", f"more than {MAX_FILES} files")
            )
            files = files[:MAX_FILES]
        self._loads = {str(f.path): self._load_file(f) for f in files}
        if self._result is not None and not errors and self.fingerprint == self._result[0]:
            return self._result[1]  # the same files with the same contents: the same result
        self._last_good = {f: self._last_good[f] for f in self._loads if f in self._last_good}
        in_force: list[_Document] = []
        declared: set[Ref] = set()
        rejected: dict[Ref, Rejection] = {}
        for name, loaded in self._loads.items():
            errors.extend(loaded.errors)
            declared |= loaded.declared
            rejected |= loaded.rejected
            if not loaded.errors:
                self._last_good[name] = loaded.documents
            elif name in self._last_good:
                errors.append(
                    LoadError(
                        name, 1, 1, "", "", "has errors: its last good version stays in force"
                    )
                )
            in_force.extend(self._last_good.get(name, loaded.documents))
        documents, dup_errors = _without_duplicates(in_force)
        errors.extend(dup_errors)
        real = {name: os.path.realpath(name) for name in self._loads}  # once a file, not a doc
        pairs = ((d.resource, real.get(d.file) or os.path.realpath(d.file)) for d in documents)
        desired, problems = assemble(pairs, declared, rejected, clean=not errors)
        by_ref = {ref(d.resource): d for d in documents}
        located: dict[Ref, list[str]] = {}
        for problem in problems:
            error = _error(by_ref[problem.ref], tuple(problem.field.split(".")), problem.message)
            errors.append(error)
            located.setdefault(problem.ref, []).append(_located(error))
        if located:  # the same reasons, with where to fix them
            fixes = {k: Rejection("InvalidReference", "; ".join(v)) for k, v in located.items()}
            desired = replace(desired, rejected={**desired.rejected, **fixes})
        errors.sort(key=lambda e: (e.file, e.line, e.col))
        result = LoadResult(desired, errors, [str(f.path) for f in files])
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

    def _load_file(self, found: Found) -> _FileLoad:
        name = str(found.path)
        within = () if self.follow_links or found.tree is None else (found.tree,)
        try:
            text = yamlfile.read_text(found.path, within)
        except Refused as refused:
            digest = hashlib.sha256(f"refused: {refused}".encode()).digest()
            error = LoadError(name, refused.line, refused.col, "", "", str(refused))
            return _FileLoad(digest, [], [error], set())
        digest = hashlib.sha256(text.encode()).digest()
        cached = self._loads.get(name)
        if cached is not None and cached.digest == digest:
            return cached
        loaded = _FileLoad(digest, [], [], set())
        try:
            loaded.documents = list(_parse_file(name, text, loaded))
        except Exception as exc:  # a bug of ours must hold this file, not stop every pass
            loaded.documents = []
            loaded.errors.append(LoadError(name, 1, 1, "", "", f"cannot load: {exc!r}"))
        return loaded


def _without_duplicates(documents: list[_Document]) -> tuple[list[_Document], list[LoadError]]:
    seen: dict[Ref, _Document] = {}
    errors = []
    for doc in documents:
        first = seen.setdefault(ref(doc.resource), doc)
        if first is not doc:
            line, _ = yamlfile.position(first.tree, ())
            message = f"duplicate: declared at {first.file}:{line}"
            errors.append(_error(doc, ("metadata", "name"), message))
    return list(seen.values()), errors


def _parse_file(name: str, text: str, loaded: _FileLoad) -> Iterator[_Document]:
    errors = loaded.errors
    fast = _parse_fast(name, text)
    if fast is not None:
        loaded.declared.update(ref(doc.resource) for doc in fast)
        yield from fast
        return
    try:
        trees = yamlfile.load_positioned(text)
    except Refused as refused:
        errors.append(LoadError(name, refused.line, refused.col, "", "", str(refused)))
        return
    if all(tree is None for tree in trees):
        message = "no documents: an emptied file holds what it declared (delete it to remove them)"
        errors.append(LoadError(name, 1, 1, "", "", message))
    for index, tree in enumerate(trees, start=1):
        if tree is None:
            continue  # an empty document, as after a trailing `---`
        named = _ref_of(tree)
        if named is not None:
            loaded.declared.add(named)
        before = len(errors)
        doc = _parse(name, index, tree, errors)
        if doc is not None:
            yield doc
        elif named is not None and named.kind in KINDS:
            text = "; ".join(_located(e) for e in errors[before:])
            loaded.rejected[named] = Rejection("InvalidSpec", text)


def _parse_fast(name: str, text: str) -> list[_Document] | None:
    """A file without any problem, through ruamel's C loader (no positions); None at the
    first problem, and the round-trip loader then finds and places every one."""
    try:
        trees = yamlfile.load_plain(text)
    except Refused:
        return None
    documents = []
    for index, tree in enumerate(trees, start=1):
        if tree is None:
            continue
        if not isinstance(tree, dict) or _check_header(tree.get("kind"), tree.get("apiVersion")):
            return None
        try:
            resource = parse_resource(_plain(tree))
        except ValidationError:
            return None
        documents.append(_Document(resource, name, text=text, index=index))
    return documents or None


def _parse(file: str, index: int, tree: Any, errors: list[LoadError]) -> _Document | None:
    if not isinstance(tree, CommentedMap):
        line, col = yamlfile.position(tree, ())
        errors.append(LoadError(file, line, col, f"document {index}", "", "must be a mapping"))
        return None
    subject = _subject(tree, index)
    kind, version = tree.get("kind"), tree.get("apiVersion")
    header = _check_header(kind, version)
    if header:
        line, col = yamlfile.position(tree, (header[0],))
        errors.append(LoadError(file, line, col, subject, *header))
        return None
    try:
        resource = parse_resource(_plain(tree))
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"][1:])  # the first item is the union's tag (the kind)
            line, col = yamlfile.position(tree, loc)
            dotted = ".".join(str(p) for p in loc)
            errors.append(LoadError(file, line, col, subject, dotted, validation_message(err)))
        return None
    return _Document(resource, file, parsed=tree)


def _located(error: LoadError) -> str:
    """An error as a resource's status tells it: where, what, why."""
    where = f"{Path(error.file).name}:{error.line}:{error.col}"
    return ": ".join(p for p in (where, error.field, error.message) if p)


def _error(doc: _Document, loc: tuple[str, ...], message: str) -> LoadError:
    line, col = yamlfile.position(doc.tree, loc)
    return LoadError(doc.file, line, col, str(ref(doc.resource)), ".".join(loc), message)


def _check_header(kind: object, version: object) -> tuple[str, str] | None:
    if version != API_VERSION:
        return "apiVersion", f"must be {API_VERSION}, not {_shown(version)}"
    if not isinstance(kind, str) or kind not in KINDS:
        return "kind", f"must be one of {', '.join(KINDS)}, not {_shown(kind)}"
    return None


def _shown(value: object) -> str:
    """A value as the message quotes it, cut short: it may be anything a file holds."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


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


def _plain(node: Any) -> Any:
    """Plain Python values with string keys (the bounds were checked before loading)."""
    if isinstance(node, dict):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node
