"""YAML files as people (and accidents) leave them: read safely, parsed within bounds.

The documents loader and the simulated-devices loader both read through here. Only a
regular file is a document: a FIFO, a device, a directory or a dangling link where one was
expected is refused, never read (a FIFO would block, /dev/zero would never end) and never
taken for an empty file. Before anything is built from the text, one pass over the parser's
events bounds what building it would cost: nodes after expanding aliases and merge keys (a
600-byte "billion laughs" would otherwise take seconds), nesting depth, and the length of
numbers (Python refuses to convert integers of 4,300 digits and more). Documents without
aliases are built straight from those events, within the same bounds. Every refusal is a
`Refused` with the 1-based line and column it concerns.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver

MAX_FILE_BYTES = 1 << 20  # 1 MiB: a thousand cameras' documents take about a tenth of it
MAX_NODES = 200_000  # per file, once aliases and merge keys are expanded
MAX_DEPTH = 64  # nested mappings and lists; camctl's documents use fewer than ten
MAX_NUMBER_CHARS = 64

_NUMBER = re.compile(r"[-+]?(\.?[0-9]|0[xo])[0-9a-fA-F_.:eE+-]*")
_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a directory",
}

Position = tuple[int, int]


@dataclass
class Refused(Exception):
    """Why a file, or a place in it, cannot be read as YAML documents."""

    message: str
    line: int = 1
    col: int = 1

    def __str__(self) -> str:
        return self.message


def read_text(path: Path, within: Sequence[Path] = (), cap: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of the regular file at `path`, at most `cap` bytes.

    With `within`, a file whose real location (links followed) is outside all of those
    folders is refused: a link may not lead camctl out of the tree it was given.
    """
    real = _real_location(path)
    if within and not any(real.is_relative_to(root) for root in _resolved(within)):
        raise Refused(f"a link leading out of the documents folder (to {real})")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise Refused(_cannot_open(exc)) from exc
    try:
        kind = stat.S_IFMT(os.fstat(fd).st_mode)
        if kind != stat.S_IFREG:
            raise Refused(f"not a regular file: {_KINDS.get(kind, 'not a file')}")
        data = _read_at_most(fd, cap)
    finally:
        os.close(fd)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _offset_position(data, exc.start)
        raise Refused(f"not UTF-8 text (byte {data[exc.start]:#04x})", line, col) from exc


def _real_location(path: Path) -> Path:
    try:
        return path.resolve(strict=True)
    except FileNotFoundError as exc:
        if path.is_symlink():
            raise Refused(f"a link to nothing ({os.readlink(path)})") from exc
        raise Refused("no such file or folder") from exc
    except (OSError, RuntimeError) as exc:  # RuntimeError: a loop of links
        raise Refused(f"cannot resolve: {exc}") from exc


def _resolved(folders: Iterable[Path]) -> list[Path]:
    return [folder.resolve() for folder in folders]


def _cannot_open(exc: OSError) -> str:
    if exc.errno == errno.EISDIR:
        return "not a regular file: a directory"
    return f"cannot read: {exc.strerror or exc}"


def _read_at_most(fd: int, cap: int) -> bytes:
    chunks, size = [], 0
    while chunk := os.read(fd, min(1 << 16, cap + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            raise Refused(f"larger than the limit of {_size(cap)}")
    return b"".join(chunks)


def _size(cap: int) -> str:
    return f"{cap / 2**20:g} MiB" if cap >= 2**20 else f"{cap} bytes"


def _offset_position(data: bytes | str, offset: int) -> Position:
    newline = b"\n" if isinstance(data, bytes) else "\n"
    line = data.count(newline, 0, offset)  # type: ignore[arg-type]
    start = data.rfind(newline, 0, offset) + 1  # type: ignore[arg-type]
    return line + 1, offset - start + 1


# --- Parsing -------------------------------------------------------------------------


def load_plain(text: str) -> list[Any]:
    """Every document as plain Python (None for an empty one), through the C loader."""
    simple = _load_simple(text)
    if simple is not None:
        return simple
    check_bounds(text)
    return _loading(YAML(typ="safe"), text)


def load_positioned(text: str) -> list[Any]:
    """Every document as ruamel's round-trip tree, which knows each node's line and column."""
    check_bounds(text)
    return _loading(YAML(typ="rt"), text)


def _loading(yaml: YAML, text: str) -> list[Any]:
    try:
        return list(yaml.load_all(text))
    except YAMLError as exc:
        raise _refusal(exc, text) from exc


# --- The common case, built straight from the parser's events ---------------------------
#
# ruamel's safe loader spends three quarters of its time composing nodes and resolving
# their tags in Python. Documents as people write them for camctl use none of what needs
# that machinery (anchors, aliases, merge keys, tags, directives), and their scalars are
# strings, integers, decimal fractions, booleans and nulls: those are built here from the
# one stream of events, with ruamel's own resolver deciding what each plain scalar is. At
# the first thing outside that (or any error), `_load_simple` returns None and the safe
# loader does the whole file, so every result is the one the safe loader would give.

_RESOLVER = VersionedResolver(version=(1, 2))
_DECIMAL = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_POINT = re.compile(r"[-+]?[0-9]+\.[0-9]+")
_BOOLEANS = {"true": True, "false": False}
_UNSUPPORTED = object()


@lru_cache(maxsize=8192)
def _plain_scalar(value: str) -> Any:
    """What a plain (unquoted) scalar is, or _UNSUPPORTED."""
    tag = str(_RESOLVER.resolve(ScalarNode, value, (True, False)))
    if tag == "tag:yaml.org,2002:str":
        return value
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:bool":
        return _BOOLEANS.get(value.lower(), _UNSUPPORTED)
    if len(value) <= MAX_NUMBER_CHARS:
        if tag == "tag:yaml.org,2002:int" and _DECIMAL.fullmatch(value):
            return int(value)
        if tag == "tag:yaml.org,2002:float" and _POINT.fullmatch(value):
            return float(value)
    return _UNSUPPORTED  # timestamps, other bases, exponents, merge keys: the safe loader's


def _load_simple(text: str) -> list[Any] | None:
    """The documents, when the text uses only what is built here (see above); else None."""
    documents: list[Any] = []
    stack: list[dict[Any, Any] | list[Any]] = []
    keys: list[Any] = []  # per open mapping: the key read, awaiting its value (_UNSUPPORTED)
    nodes = 0
    try:
        for event in YAML(typ="safe").parse(text):
            kind = type(event)
            if kind is ScalarEvent:
                if event.anchor is not None or event.tag is not None:
                    return None
                value = _plain_scalar(event.value) if event.implicit[0] else event.value
                if value is _UNSUPPORTED:
                    return None
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                if event.anchor is not None or event.tag is not None or len(stack) >= MAX_DEPTH:
                    return None
                stack.append({} if kind is MappingStartEvent else [])
                keys.append(_UNSUPPORTED)
                nodes += 1
                continue
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                value = stack.pop()
                keys.pop()
            elif kind is DocumentStartEvent:
                if event.version is not None or event.tags:
                    return None
                continue
            elif kind is AliasEvent:
                return None
            else:
                continue
            nodes += 1
            if nodes > MAX_NODES:
                return None
            if not stack:
                documents.append(value)
                continue
            parent = stack[-1]
            if isinstance(parent, list):
                parent.append(value)
            elif keys[-1] is _UNSUPPORTED:  # a key: a scalar, not yet in the mapping
                if isinstance(value, dict | list) or value in parent:
                    return None
                keys[-1] = value
            else:
                parent[keys[-1]] = value
                keys[-1] = _UNSUPPORTED
    except YAMLError:
        return None
    return documents


@dataclass
class _Open:
    """A mapping or list being parsed."""

    anchor: str | None
    nodes_before: int
    depth: int  # 1 for a document's top collection
    peak: int  # the deepest level reached inside it, aliases expanded


def check_bounds(text: str) -> None:
    """Refuse text whose documents would be too large, too deep or hold huge numbers once
    built; one linear pass over the parser's events, before anything is built.

    A syntax error ends the check quietly: the loader then stops at the same place, having
    built only what was checked, and says what is wrong in its own words."""
    named: dict[str, tuple[int, int]] = {}  # anchor -> (nodes, height) of what it names
    stack: list[_Open] = []
    nodes = 0
    try:
        for event in YAML(typ="safe").parse(text):
            if isinstance(event, CollectionEndEvent):
                done = stack.pop()
                if done.anchor is not None:
                    named[done.anchor] = (nodes - done.nodes_before, done.peak - done.depth + 1)
                if stack:
                    stack[-1].peak = max(stack[-1].peak, done.peak)
                continue
            if not isinstance(event, NodeEvent):
                continue
            size, height = (1, 1)
            if isinstance(event, AliasEvent):
                size, height = named.get(event.anchor, (1, 1))
            elif isinstance(event, ScalarEvent):
                _check_scalar(event)
            nodes += size
            if nodes > MAX_NODES:
                raise _at(event, f"more than {MAX_NODES} values once aliases are expanded")
            depth = len(stack) + 1
            if depth + height - 1 > MAX_DEPTH:
                raise _at(event, f"nested more than {MAX_DEPTH} levels deep")
            if isinstance(event, CollectionStartEvent):
                stack.append(_Open(event.anchor, nodes - 1, depth, depth))
                continue
            if isinstance(event, ScalarEvent) and event.anchor is not None:
                named[event.anchor] = (1, 1)
            if stack:
                stack[-1].peak = max(stack[-1].peak, depth + height - 1)
    except YAMLError:
        return


def _check_scalar(event: ScalarEvent) -> None:
    plain = event.style in (None, "") and event.implicit[0]
    value = event.value
    if plain and len(value) > MAX_NUMBER_CHARS and _NUMBER.fullmatch(value):
        raise _at(event, f"a number of more than {MAX_NUMBER_CHARS} characters")


def _at(event: Any, message: str) -> Refused:
    mark = event.start_mark
    return Refused(message, mark.line + 1, mark.column + 1) if mark else Refused(message)


def _refusal(exc: YAMLError, text: str) -> Refused:
    """A parser error as one located line, with a hint where the usual cause is known."""
    if isinstance(exc, MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        message = f"invalid YAML: {exc.problem or exc.context}"
        if exc.problem and exc.context:
            at = exc.context_mark
            message += f" ({exc.context}{f', line {at.line + 1}' if at else ''})"
        if "mapping values are not allowed" in message or "expected <block end>" in message:
            message += " (check the indentation: nested keys line up under their parent)"
        elif "cannot start any token" in message and "\t" in text:
            message += " (YAML indents with spaces, not tabs)"
        return Refused(message, *((mark.line + 1, mark.column + 1) if mark else (1, 1)))
    position = getattr(exc, "position", None)
    where = _offset_position(text, position) if isinstance(position, int) else (1, 1)
    return Refused(f"invalid YAML: {str(exc).splitlines()[0]}", *where)


# --- Positions -----------------------------------------------------------------------


def position(tree: Any, loc: Iterable[Any]) -> Position:
    """1-based line and column of the deepest node of `loc` present in a round-trip tree."""
    node, line, col = tree, 0, 0
    if hasattr(tree, "lc"):
        line, col = tree.lc.line, tree.lc.col
    for key in loc:
        if isinstance(node, CommentedMap) and key in node:
            line, col = node.lc.key(key)
            node = node[key]
        elif isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
            line, col = node.lc.item(key)
            node = node[key]
        else:
            break
    return line + 1, col + 1
