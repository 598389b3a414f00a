"""Waking the loop when the files a source reads change: inotify on the event loop.

A source names what it reads as a `WatchGroup` (its paths, and the word that names them in a
reason); one `FileWatch` follows every group and calls `notify("files: a.yaml changed")`.
It only says *that* something may have changed: the source reloads and compares contents.

On Linux the watch is one inotify descriptor read by the asyncio loop itself, as the udev
monitor is, so an idle controller runs nothing until the kernel reports a change. Folders are
watched, not files (editors save by rename, `git checkout` replaces files, Kubernetes swaps a
ConfigMap's `..data` link), with their subfolders (hidden ones such as .git left out), and
the folder holding each one, so that a folder created, removed or replaced is watched again.
Where inotify is not available (not Linux), or the kernel refuses more watches
(`fs.inotify.max_user_watches`), watchfiles' public `awatch` does the watching instead; it
looks every few milliseconds, and `FileWatch.fallback_reason` says why it is in use.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from watchfiles import Change, awatch

if TYPE_CHECKING:
    from asyncinotify import Event, Inotify, Mask, Watch

log = logging.getLogger(__name__)

WatchGroup = tuple[Sequence[Path], str]  # paths, and the word that names them in a reason
SUFFIXES = (".yaml", ".yml")  # the documents' files; other files in their folders do not count
MAX_FOLDERS = 10_000  # watched under one root; deeper ones are left to the periodic resync
# The kernel refusing a watch (fs.inotify.max_user_watches) or an instance (max_user_instances).
REFUSED = {errno.ENOSPC: "max_user_watches", errno.EMFILE: "max_user_instances"}
# watchfiles, where it is used: its own defaults (1,600 and 50 ms) would be slow to notice an
# edit; polling (when the kernel refused inotify) looks every POLL_MS; the roots themselves
# are looked at every ROOTS_MS, to watch a folder created or replaced since.
DEBOUNCE_MS, STEP_MS, POLL_MS, ROOTS_MS = 50, 20, 300, 1000
REPLACED = "(watched folder replaced)"  # watchfiles' reason after starting again


class FileWatch:
    """Every group's files, followed by one watcher until cancelled: inotify where the
    kernel has it and allows it, else watchfiles."""

    def __init__(self, groups: Sequence[WatchGroup], notify: Callable[[str], None]) -> None:
        self.groups, self.notify = list(groups), notify
        self.ready = asyncio.Event()  # set once changes from now on will be noticed
        self.backend = "inotify" if sys.platform == "linux" else "watchfiles"
        # Why the watch is not inotify although this is Linux (for health); None while it is.
        self.fallback_reason: str | None = None

    async def run(self) -> None:
        if self.backend == "inotify":
            try:
                await InotifyWatch(self.groups, self.notify, self.ready).run()
            except OSError as exc:
                if exc.errno not in REFUSED:
                    raise
                self._fall_back(exc)
        polling, started = self.fallback_reason is not None, None
        if polling:  # changes meanwhile may be unseen: a pass once polling has begun
            started = f"file watch: {self.fallback_reason}"
        await WatchfilesWatch(self.groups, self.notify, self.ready, polling, started).run()

    def _fall_back(self, exc: OSError) -> None:
        limit = REFUSED[exc.errno or 0]
        self.backend = "watchfiles polling"
        self.fallback_reason = (
            f"the kernel refused inotify ({os.strerror(exc.errno or 0)}: fs.inotify.{limit}); "
            f"polling every {POLL_MS / 1000:g} s instead, which misses a change made within "
            "the same second as the one before it until the next resync"
        )
        log.warning("file watch: %s", self.fallback_reason)


async def watch_paths(groups: Sequence[WatchGroup], notify: Callable[[str], None]) -> None:
    """Call `notify` on changes that can matter to the groups' paths, until cancelled."""
    await FileWatch(groups, notify).run()


class _Relay:
    """Turns changed paths into one reason per group that they matter to."""

    def __init__(self, groups: Sequence[WatchGroup], notify: Callable[[str], None]) -> None:
        self.groups, self.notify = groups, notify
        self.filters: list[tuple[Callable[[str, bool], bool], str]] = []
        self.pending: dict[str, set[str]] = {}
        self.refresh()

    def refresh(self) -> None:
        """Sort the paths into folders and files again: one may have been created since."""
        self.filters = [(relevance(paths), what) for paths, what in self.groups]

    def saw(self, path: str, folder: bool) -> None:
        for matches, what in self.filters:
            if matches(path, folder):
                self.pending.setdefault(what, set()).add(path.rpartition("/")[2])

    def saw_all(self, why: str) -> None:
        """Something happened that may touch any file: say so for every group."""
        for _, what in self.groups:
            self.pending.setdefault(what, set()).add(why)

    def announce(self) -> None:
        for what, names in self.pending.items():
            shown = sorted(names)
            more = " …" if len(shown) > 5 else ""
            self.notify(f"{what}: {', '.join(shown[:5])}{more} changed")
        self.pending = {}


def relevance(paths: Sequence[Path]) -> Callable[[str, bool], bool]:
    """Whether a changed path (a folder, or not) can matter to `paths`: a YAML file or a
    folder under a watched folder, a file given itself, a path on the way to one of them, or
    a ConfigMap's `..` entry beside them; not what hides in .git and other dot folders."""
    dirs = [str(p.absolute()) for p in paths if p.is_dir()]
    files = {str(p.absolute()) for p in paths if not p.is_dir()}
    roots = [*dirs, *files]
    holders = [*dirs, *(f.rpartition("/")[0] for f in files)]

    def matches(changed: str, folder: bool) -> bool:
        name = changed.rpartition("/")[2]
        if name.startswith(".."):  # a Kubernetes ConfigMap swapping its ..data link
            return any(changed.startswith(d + "/") for d in holders)
        for d in dirs:
            if changed.startswith(d + "/"):
                if _hidden(changed[len(d) + 1 :]):
                    return False
                return folder or Path(name).suffix in SUFFIXES or not Path(name).suffix
        return changed in files or any(r == changed or r.startswith(changed + "/") for r in roots)

    return matches


def _hidden(relative: str) -> bool:
    return any(part.startswith(".") for part in relative.split("/"))


# ---------------------------------------------------------------------------------------------
# inotify


def _mask() -> Mask:
    from asyncinotify import Mask

    return (
        Mask.CLOSE_WRITE  # written (editors, git and the kubelet close what they write)
        | Mask.ATTRIB  # touched, or made readable
        | Mask.CREATE
        | Mask.DELETE
        | Mask.MOVED_FROM
        | Mask.MOVED_TO
        | Mask.DELETE_SELF
        | Mask.MOVE_SELF
        | Mask.ONLYDIR  # only folders: a file swapped in under a folder's name is not watched
        | Mask.EXCL_UNLINK
    )


class InotifyWatch:
    """The groups' folders, with their subfolders and the folders holding them, through one
    inotify descriptor that the event loop reads.

    asyncinotify gives the descriptor, its watches and its events; its own recursive helpers
    are not used (they watch .git too, and a folder that vanishes while they walk it ends
    them). Each wake drains every waiting event, adds or drops watches if folders came or
    went, and only then notifies, so a file written in a new folder before its watch existed
    is read by the pass that the notification starts.
    """

    def __init__(
        self,
        groups: Sequence[WatchGroup],
        notify: Callable[[str], None],
        ready: asyncio.Event | None = None,
    ) -> None:
        self.roots = [str(p.absolute()) for paths, _ in groups for p in paths]
        self.relay = _Relay(groups, notify)
        self.ready = ready or asyncio.Event()
        self.watches: dict[str, Watch] = {}  # each folder watched, by the path it is known by
        self._paths: dict[int, set[str]] = {}  # the paths each watch descriptor is known by
        self._stale = False
        self._mask = _mask()
        self._crowded: set[str] = set()  # roots with too many folders, said once

    async def run(self) -> None:
        from asyncinotify import InitFlags, Inotify

        loop = asyncio.get_running_loop()
        failed: asyncio.Future[None] = loop.create_future()
        # asyncinotify's NONBLOCK flag is O_CLOEXEC (4.4.4): ask for O_NONBLOCK itself.
        flags = InitFlags(InitFlags.CLOEXEC | os.O_NONBLOCK)
        with Inotify(flags=flags, cache_size=64, sync_timeout=0) as inotify:
            self._sync(inotify)

            def drain() -> None:
                try:
                    self._drain(inotify)
                except Exception as exc:  # the kernel refused a watch: the caller falls back
                    if not failed.done():
                        failed.set_exception(exc)

            loop.add_reader(inotify.fd, drain)
            self.ready.set()
            try:
                await failed
            finally:
                loop.remove_reader(inotify.fd)

    def _drain(self, inotify: Inotify) -> None:
        while (event := inotify.sync_get()) is not None:
            self._take(event)
        if self._stale:
            self._sync(inotify)
        self.relay.announce()

    def _take(self, event: Event) -> None:
        from asyncinotify import Mask

        if Mask.Q_OVERFLOW in event.mask:  # the kernel's queue overflowed: look at everything
            self._stale = True
            self.relay.saw_all("(events lost)")
            return
        watch = event.watch
        if watch is None:
            return
        if Mask.IGNORED in event.mask:  # the folder is gone (or its watch was removed)
            for path in self._paths.pop(watch.wd, set()):
                if self.watches.get(path) is watch:
                    del self.watches[path]
            self._stale = True
            return
        itself = event.name is None  # the watched folder itself was removed or moved
        folder = itself or Mask.ISDIR in event.mask
        arrived = Mask.CREATE in event.mask or Mask.MOVED_TO in event.mask
        for base in list(self._paths.get(watch.wd, ())):
            path = base if itself else f"{base}/{event.name}"
            self.relay.saw(path, folder)
            if itself or path in self.watches or self._reshapes(path, folder, arrived):
                self._stale = True

    def _reshapes(self, path: str, folder: bool, arrived: bool) -> bool:
        """Whether a folder, or a link to one, at `path` changes which folders to watch."""
        if not self._shapes_tree(path):
            return False
        return folder or (arrived and os.path.isdir(path))  # os.path.isdir: links too

    def _shapes_tree(self, path: str) -> bool:
        """Whether a folder at `path` is, leads to, or lies in one of the roots' trees."""
        return any(
            root == path
            or root.startswith(path + "/")
            or (path.startswith(root + "/") and not _hidden(path[len(root) + 1 :]))
            for root in self.roots
        )

    def _sync(self, inotify: Inotify) -> None:
        """Watch exactly the folders wanted now; the kernel keeps one watch per folder."""
        self._stale = False
        self.relay.refresh()
        wanted = self._wanted()
        for path in wanted:
            try:
                watch = inotify.add_watch(path, self._mask)
            except OSError as exc:
                if exc.errno in REFUSED:
                    raise
                if path in self.watches:
                    self._forget(inotify, path)
                continue  # gone meanwhile, or unreadable: its parent's events tell
            old = self.watches.get(path)
            if old is not None and old.wd != watch.wd:  # replaced by another folder
                self._forget(inotify, path)
            self.watches[path] = watch
            self._paths.setdefault(watch.wd, set()).add(path)
        for path in set(self.watches) - wanted:
            self._forget(inotify, path)

    def _forget(self, inotify: Inotify, path: str) -> None:
        watch = self.watches.pop(path)
        paths = self._paths.get(watch.wd, set())
        paths.discard(path)
        if not paths:
            self._paths.pop(watch.wd, None)
            with contextlib.suppress(OSError):  # the kernel removed it already
                inotify.rm_watch(watch)

    def _wanted(self) -> set[str]:
        """Each root's tree (a file's folder), and the nearest folder holding that."""
        wanted: set[str] = set()
        for root in map(Path, self.roots):
            if root.is_dir():
                anchor = root
                folders, more = _tree(root)
                wanted.update(folders)
                if more and str(root) not in self._crowded:
                    self._crowded.add(str(root))
                    log.warning(
                        "file watch: over %d folders under %s: not all watched", MAX_FOLDERS, root
                    )
            else:
                anchor = root.parent
                if anchor.is_dir():
                    wanted.add(str(anchor))
            holder = anchor.parent
            while not holder.is_dir() and holder != holder.parent:
                holder = holder.parent
            wanted.add(str(holder))
        return wanted


def _tree(root: Path) -> tuple[list[str], bool]:
    """A folder and its subfolders as `discover` walks them (links to folders followed, each
    folder once, hidden ones left out), at most MAX_FOLDERS; and whether there were more."""
    stack, found, seen = [str(root)], list[str](), set[tuple[int, int]]()
    while stack and len(found) < MAX_FOLDERS:
        folder = stack.pop()
        try:
            info = os.stat(folder)
            if (info.st_dev, info.st_ino) in seen:  # a link back up the tree
                continue
            seen.add((info.st_dev, info.st_ino))
            found.append(folder)
            with os.scandir(folder) as entries:
                stack.extend(e.path for e in entries if not e.name.startswith(".") and e.is_dir())
        except OSError:
            continue  # removed meanwhile, or unreadable
    return found, bool(stack)


# ---------------------------------------------------------------------------------------------
# watchfiles


class WatchfilesWatch:
    """The groups' folders through watchfiles' `awatch` (recursive), polling if asked to.

    A root that appears, disappears or is replaced (a ConfigMap swapping `..data`) is seen by
    looking at the roots themselves every ROOTS_MS; the watch then starts again (so it does
    when a link to a folder appears), and once it is in place every group is notified.
    `started`, if given, is notified once the first watch is in place (for polling, after its
    first look has taken the files' state)."""

    def __init__(
        self,
        groups: Sequence[WatchGroup],
        notify: Callable[[str], None],
        ready: asyncio.Event | None = None,
        polling: bool = False,
        started: str | None = None,
    ) -> None:
        self.paths = [p.absolute() for paths, _ in groups for p in paths]
        self.relay = _Relay(groups, notify)
        self.notify = notify
        self.ready = ready or asyncio.Event()
        self.polling = polling
        self._started, self._replaced = started, False

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()  # read by watchfiles' thread at each step
        watching = loop.create_task(self._watch(stop))
        try:
            await asyncio.shield(watching)
        finally:
            # Cancelled: awatch would only see that when its thread next returns (ROOTS_MS).
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await watching

    async def _watch(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            roots, seen = self._roots()
            self.relay.refresh()
            if not roots:
                self._in_place()
                while self._roots()[1] == seen and not await _stopped(stop, ROOTS_MS):
                    pass
            else:
                with contextlib.suppress(FileNotFoundError):  # a root vanished as it started
                    await self._follow(roots, seen, stop)
                if self._roots()[1] == seen:  # it vanished and came back: do not spin
                    await _stopped(stop, ROOTS_MS)
            self._replaced = True

    async def _follow(self, roots: list[str], seen: object, stop: asyncio.Event) -> None:
        """Relay changes until a root changes (then return) or `stop` is set."""
        changes = awatch(
            *roots,
            watch_filter=None,
            debounce=DEBOUNCE_MS,
            step=STEP_MS,
            stop_event=stop,
            rust_timeout=ROOTS_MS,
            yield_on_timeout=True,
            force_polling=self.polling,
            poll_delay_ms=POLL_MS,
            ignore_permission_denied=True,
        )
        if not self.polling:  # in place once awatch has set its watches, before it waits
            asyncio.get_running_loop().call_soon(self._in_place)
        async with contextlib.aclosing(changes):
            async for batch in changes:
                self._in_place()  # polling: after a first look (a timeout, or changes)
                linked = False
                for change, path in batch:
                    folder = os.path.isdir(path)
                    if not (folder and change == Change.modified):  # its entries tell more
                        self.relay.saw(path, folder)
                    # watchfiles follows the links to folders there when it starts, only
                    linked |= change == Change.added and folder and _visible_link(path)
                self.relay.announce()
                if linked or self._roots()[1] != seen:
                    return

    def _in_place(self) -> None:
        self.ready.set()
        if self._started is not None:
            self.notify(self._started)
            self._started = None
        if self._replaced:
            self._replaced = False
            self.relay.saw_all(REPLACED)
            self.relay.announce()

    def _roots(self) -> tuple[list[str], object]:
        """The folders to watch (each root, or a file's folder), and what identifies them."""
        anchors = sorted({str(p if p.is_dir() else p.parent) for p in self.paths})
        seen: list[tuple[str, tuple[int, int] | None]] = []
        for anchor in anchors:
            try:
                stat = os.stat(anchor)
            except OSError:
                seen.append((anchor, None))
            else:
                seen.append((anchor, (stat.st_dev, stat.st_ino)))
        return [a for a, ident in seen if ident is not None], seen


def _visible_link(path: str) -> bool:
    return not path.rpartition("/")[2].startswith(".") and os.path.islink(path)


async def _stopped(stop: asyncio.Event, ms: int) -> bool:
    """Wait `ms` milliseconds, or less if `stop` is set; whether it is."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), ms / 1000)
    return stop.is_set()
