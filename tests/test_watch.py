"""The file watch: one contract for inotify and for watchfiles, and falling back between them.

Each contract test runs against the inotify watch and against the watchfiles one (as used off
Linux). A test makes a real change on disk (rename-saves, `git checkout`, a ConfigMap's
`..data` swap, folders coming and going, editors writing in steps) and waits for a
notification naming what changed. Changes that must be ignored are followed by a sentinel
change: the notifications after them must name the sentinel alone. Falling back is shown with
the kernel's real refusal: a child process in a user namespace whose inotify limits are
lowered (`/proc/sys/user/`); there watchfiles polls, which sees modification times to the
second only, so those tests change files that were last changed seconds before.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import pytest

from controller.kit.watch import (
    REPLACED,
    FileWatch,
    InotifyWatch,
    WatchfilesWatch,
    WatchGroup,
)

pytestmark = pytest.mark.anyio

WAIT = 10.0  # seconds: a bug, not a slow machine
DOC = "apiVersion: camctl.dev/v1alpha1\nkind: Camera\nmetadata: {name: %s}\nspec: {}\n"


class Watcher(Protocol):
    ready: asyncio.Event

    async def run(self) -> None: ...


@dataclass(frozen=True)
class Implementation:
    make: Callable[[Sequence[WatchGroup], Callable[[str], None]], Watcher]
    restarts: bool  # watchfiles starts again when a root changes, and then says REPLACED


IMPLEMENTATIONS = {
    "inotify": Implementation(InotifyWatch, restarts=False),
    "watchfiles": Implementation(WatchfilesWatch, restarts=True),
}


@pytest.fixture(params=list(IMPLEMENTATIONS))
def impl(request: pytest.FixtureRequest) -> Implementation:
    return IMPLEMENTATIONS[request.param]


def names(reason: str) -> set[str]:
    """The names in a reason such as `files: a.yaml, b.yaml changed`."""
    listed = reason.split(": ", 1)[1].removesuffix(" changed").removesuffix(" …")
    return set(listed.split(", "))


@dataclass
class Seen:
    """The notifications so far, and what a file held when each came (the pass's view)."""

    reasons: list[str] = field(default_factory=list)
    contents: list[str | None] = field(default_factory=list)
    read: Path | None = None

    def notify(self, reason: str) -> None:
        self.reasons.append(reason)
        if self.read is not None:
            self.contents.append(self.read.read_text() if self.read.exists() else None)

    async def naming(self, *wanted: str, since: int) -> set[str]:
        """Wait for notifications after `since` to name one of `wanted`; all names since."""
        deadline = time.monotonic() + WAIT
        while True:
            named = set().union(*map(names, self.reasons[since:]))
            if named & set(wanted):
                return named
            if time.monotonic() > deadline:
                raise AssertionError(f"no notification naming {wanted}: {self.reasons[since:]}")
            await asyncio.sleep(0.01)

    async def only(self, sentinel: Path, since: int) -> None:
        """Change `sentinel`; the notifications since `since` must name nothing else."""
        sentinel.write_text(DOC % f"sentinel-{time.monotonic_ns()}")
        await self.naming(sentinel.name, since=since)
        await asyncio.sleep(0.1)  # what a batch still holds
        named = set().union(*map(names, self.reasons[since:])) - {REPLACED}
        assert named == {sentinel.name}, self.reasons[since:]

    async def settled(self, impl: Implementation, since: int) -> None:
        """After a root changed: watchfiles has started again once it says so."""
        if impl.restarts:
            await self.naming(REPLACED, since=since)


@asynccontextmanager
async def watching(
    impl: Implementation, *paths: Path, read: Path | None = None
) -> AsyncIterator[Seen]:
    seen = Seen(read=read)
    watcher = impl.make([(list(paths), "files")], seen.notify)
    task = asyncio.create_task(watcher.run())
    ready = asyncio.create_task(watcher.ready.wait())
    await asyncio.wait({task, ready}, timeout=WAIT, return_when=asyncio.FIRST_COMPLETED)
    try:
        assert watcher.ready.is_set(), task.exception() if task.done() else "not ready"
        yield seen
        assert not task.done(), task.exception()
    finally:
        ready.cancel()
        task.cancel()
        await asyncio.gather(task, ready, return_exceptions=True)


def docs_in(folder: Path, *files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in files:
        (folder / name).write_text(DOC % Path(name).stem)
    return folder


def rename_save(path: Path, text: str) -> None:
    """As editors save: write a hidden file beside it, then rename it over."""
    swap = path.with_name(f".{path.name}.swp")
    swap.write_text(text)
    os.replace(swap, path)


# --- saves -----------------------------------------------------------------------------------


async def test_a_rename_save_is_named(impl: Implementation, tmp_path: Path) -> None:
    docs = docs_in(tmp_path / "docs", "a.yaml", "b.yaml")
    async with watching(impl, docs) as seen:
        rename_save(docs / "a.yaml", DOC % "changed")
        named = await seen.naming("a.yaml", since=0)
        assert ".a.yaml.swp" not in named and "b.yaml" not in named


async def test_an_editor_writing_in_steps_is_read_after_its_last_step(
    impl: Implementation, tmp_path: Path
) -> None:
    """Like vim: probe file, original renamed to a backup, new file written in parts with
    pauses between them, backup removed; then an in-place rewrite in parts. The content read
    at the last notification of each is the final one."""
    docs = docs_in(tmp_path / "docs", "a.yaml")
    target = docs / "a.yaml"
    async with watching(impl, docs, read=target) as seen:
        final = DOC % "written-in-steps"
        (docs / "4913").write_text("")
        (docs / "4913").unlink()
        os.rename(target, docs / "a.yaml~")
        with target.open("w") as out:
            for part in (final[:20], final[20:40], final[40:]):
                out.write(part)
                out.flush()
                await asyncio.sleep(0.08)
        (docs / "a.yaml~").unlink()
        await seen.naming("a.yaml", since=0)
        await asyncio.sleep(0.3)
        assert seen.contents[-1] == final

        since, again = len(seen.reasons), DOC % "rewritten-in-place"
        with target.open("r+") as out:
            out.truncate(0)
            out.flush()
            await asyncio.sleep(0.08)
            out.write(again[:25])
            out.flush()
            await asyncio.sleep(0.08)
            out.write(again[25:])
        await seen.naming("a.yaml", since=since)
        await asyncio.sleep(0.3)
        assert seen.contents[-1] == again


async def test_a_file_given_itself_is_watched_and_its_neighbours_are_not(
    impl: Implementation, tmp_path: Path
) -> None:
    folder = docs_in(tmp_path / "dev", "devices.yaml", "other.yaml")
    devices = folder / "devices.yaml"
    async with watching(impl, devices) as seen:
        rename_save(devices, DOC % "renamed-over")
        await seen.naming("devices.yaml", since=0)

        since = len(seen.reasons)
        (folder / "other.yaml").write_text(DOC % "neighbour")
        rename_save(folder / "other.yaml", DOC % "neighbour-again")
        await seen.only(devices, since)

        since = len(seen.reasons)
        devices.unlink()
        await seen.naming("devices.yaml", since=since)
        since = len(seen.reasons)
        devices.write_text(DOC % "back")
        await seen.naming("devices.yaml", since=since)


# --- git and Kubernetes ------------------------------------------------------------------------


def git(repo: Path, *args: str) -> None:
    identity = ["-c", "user.name=camctl tests", "-c", "user.email=tests@camctl.invalid"]
    subprocess.run(
        ["git", *identity, "-c", "commit.gpgsign=false", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


async def test_git_checkout_is_named_and_git_own_files_are_not(
    impl: Implementation, tmp_path: Path
) -> None:
    repo = docs_in(tmp_path / "repo", "a.yaml", "b.yaml")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first")
    git(repo, "checkout", "-q", "-b", "next")
    (repo / "a.yaml").write_text(DOC % "next")
    docs_in(repo / "site" / "door", "c.yaml")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "next")
    git(repo, "checkout", "-q", "main")
    async with watching(impl, repo) as seen:
        git(repo, "checkout", "-q", "next")
        named = await seen.naming("a.yaml", since=0)
        await seen.naming("c.yaml", "site", "door", since=0)
        assert "b.yaml" not in named

        since = len(seen.reasons)
        git(repo, "commit", "-q", "--allow-empty", "-m", "only .git changes")
        git(repo, "tag", "v1")
        git(repo, "gc", "-q")
        await seen.only(repo / "a.yaml", since)


def configmap_swap(mount: Path, source: Path) -> set[str]:
    """Publish `source` as the kubelet updates a ConfigMap volume: new dir, ..data swapped.
    The names of the entries changed, any of which a notification may name."""
    old = (mount / "..data").resolve() if (mount / "..data").exists() else None
    new = mount / f"..{datetime.now(UTC):%Y_%m_%d_%H_%M_%S.%f}"
    shutil.copytree(source, new)
    (mount / "..data_tmp").symlink_to(new.name)
    os.replace(mount / "..data_tmp", mount / "..data")  # the atomic step
    if old is not None:
        shutil.rmtree(old)
    return {"..data", "..data_tmp", new.name, *([old.name] if old else [])}


def configmap(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A mounted ConfigMap with a.yaml (as `a.yaml -> ..data/a.yaml`), and two versions."""
    first = docs_in(tmp_path / "v1", "a.yaml")
    second = docs_in(tmp_path / "v2", "a.yaml")
    (second / "a.yaml").write_text(DOC % "second")
    mount = tmp_path / "configmap"
    mount.mkdir()
    configmap_swap(mount, first)
    (mount / "a.yaml").symlink_to(Path("..data") / "a.yaml")
    return mount, first, second


async def test_a_configmap_swap_is_seen_each_time(impl: Implementation, tmp_path: Path) -> None:
    mount, first, second = configmap(tmp_path)
    async with watching(impl, mount) as seen:
        for version in (second, first, second):
            since = len(seen.reasons)
            changed = configmap_swap(mount, version)
            await seen.naming(*changed, since=since)


async def test_a_watched_data_folder_swapped_away_is_followed(
    impl: Implementation, tmp_path: Path
) -> None:
    """The folder given is `..data` itself: each swap replaces it; the new one is watched."""
    mount, _, second = configmap(tmp_path)
    data = mount / "..data"
    async with watching(impl, data) as seen:
        changed = configmap_swap(mount, second)
        await seen.naming(*changed, "a.yaml", REPLACED, since=0)
        await seen.settled(impl, 0)
        # Not how a ConfigMap changes, but it shows the new folder's own watch.
        since = len(seen.reasons)
        (data / "b.yaml").write_text(DOC % "b")
        await seen.naming("b.yaml", since=since)


# --- folders coming and going ------------------------------------------------------------------


async def test_new_folders_are_watched(impl: Implementation, tmp_path: Path) -> None:
    docs = docs_in(tmp_path / "docs", "a.yaml")
    async with watching(impl, docs) as seen:
        deep = docs / "site" / "door" / "cams"
        deep.mkdir(parents=True)
        (deep / "x.yaml").write_text(DOC % "x")  # at once: before any watch on `cams`
        await seen.naming("site", "door", "cams", "x.yaml", since=0)
        since = len(seen.reasons)
        (deep / "y.yaml").write_text(DOC % "y")
        await seen.naming("y.yaml", since=since)


async def test_a_folder_created_after_start_is_watched(
    impl: Implementation, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    async with watching(impl, docs) as seen:
        docs_in(docs, "x.yaml")
        await seen.naming("docs", "x.yaml", REPLACED, since=0)
        await seen.settled(impl, 0)
        since = len(seen.reasons)
        (docs / "y.yaml").write_text(DOC % "y")
        await seen.naming("y.yaml", since=since)


async def test_a_watched_folder_removed_and_created_again(
    impl: Implementation, tmp_path: Path
) -> None:
    docs = docs_in(tmp_path / "docs", "a.yaml")
    async with watching(impl, docs) as seen:
        shutil.rmtree(docs)
        await seen.naming("docs", "a.yaml", REPLACED, since=0)
        await seen.settled(impl, 0)
        since = len(seen.reasons)
        docs_in(docs, "x.yaml")
        await seen.naming("docs", "x.yaml", REPLACED, since=since)
        await seen.settled(impl, since)
        since = len(seen.reasons)
        (docs / "y.yaml").write_text(DOC % "y")
        await seen.naming("y.yaml", since=since)


async def test_a_watched_folder_replaced_by_a_rename(impl: Implementation, tmp_path: Path) -> None:
    docs = docs_in(tmp_path / "docs", "a.yaml")
    fresh = docs_in(tmp_path / "fresh", "a.yaml", "b.yaml")
    async with watching(impl, docs) as seen:
        os.rename(docs, tmp_path / "old")
        os.rename(fresh, docs)
        await seen.naming("docs", "a.yaml", "b.yaml", REPLACED, since=0)
        await seen.settled(impl, 0)
        since = len(seen.reasons)
        (tmp_path / "old" / "a.yaml").write_text(DOC % "moved-away")  # no longer watched
        await seen.only(docs / "b.yaml", since)


async def test_a_linked_folder_is_watched_as_the_loader_reads_it(
    impl: Implementation, tmp_path: Path
) -> None:
    """The loader follows links to folders (each folder once): so does the watch."""
    docs = docs_in(tmp_path / "docs", "a.yaml")
    (docs / "again").symlink_to(docs)  # a link back up the tree
    site = docs_in(tmp_path / "site", "s.yaml")
    async with watching(impl, docs) as seen:
        (docs / "site").symlink_to(site)
        await seen.naming("site", since=0)
        await seen.settled(impl, 0)
        since = len(seen.reasons)
        (site / "s.yaml").write_text(DOC % "edited")
        await seen.naming("s.yaml", since=since)


# --- what is ignored ---------------------------------------------------------------------------


async def test_hidden_folders_and_other_files_are_ignored(
    impl: Implementation, tmp_path: Path
) -> None:
    docs = docs_in(tmp_path / "docs", "a.yaml")
    docs_in(docs / ".git" / "refs", "x.yaml")
    async with watching(impl, docs) as seen:
        (docs / ".git" / "refs" / "x.yaml").write_text(DOC % "hidden")
        docs_in(docs / ".git" / "objects" / "ab", "y.yaml")
        docs_in(docs / ".cache", "z.yaml")
        (docs / ".draft.yaml").write_text(DOC % "draft")
        (docs / "README.md").write_text("notes\n")
        await seen.only(docs / "a.yaml", 0)


# --- inotify itself, and falling back --------------------------------------------------------


def wakeups() -> int:
    """The voluntary context switches of this thread so far: how often it blocked and woke."""
    status = Path(f"/proc/self/task/{threading.get_native_id()}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("voluntary_ctxt_switches"))
    return int(line.split()[1])


async def test_the_inotify_watch_wakes_nothing_while_nothing_changes(tmp_path: Path) -> None:
    """No thread and no timer: the event loop reads the descriptor when the kernel has news.
    (watchfiles' thread would wake 50 times in the second waited here.)"""
    docs = docs_in(tmp_path / "docs", "a.yaml")
    reasons: list[str] = []
    watch = FileWatch([([docs], "files")], reasons.append)
    threads = set(threading.enumerate())
    task = asyncio.create_task(watch.run())
    try:
        await asyncio.wait_for(watch.ready.wait(), WAIT)
        assert (watch.backend, watch.fallback_reason) == ("inotify", None)
        assert set(threading.enumerate()) - threads == set()  # no thread of its own
        before = wakeups()
        await asyncio.sleep(1.0)
        assert wakeups() - before <= 5
        rename_save(docs / "a.yaml", DOC % "saved")
        deadline = time.monotonic() + WAIT
        while not reasons and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert reasons == ["files: a.yaml changed"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


LIMITED = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from pathlib import Path
    from controller.kit.watch import FileWatch

    docs, mkdir = Path(sys.argv[1]), sys.argv[2] == "mkdir"

    async def main():
        reasons = []
        watch = FileWatch([([docs], "files")], reasons.append)
        task = asyncio.create_task(watch.run())
        await asyncio.wait_for(watch.ready.wait(), 10)
        await asyncio.sleep(0.5)
        backend = watch.backend
        target = docs / "a.yaml"
        if mkdir:
            (docs / "new").mkdir()
            await asyncio.sleep(1.5)
            target = docs / "new" / "x.yaml"
        mark = len(reasons)
        target.write_text("kind: Camera")
        deadline = time.monotonic() + 10
        while not any(target.name in r for r in reasons[mark:]) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        print(json.dumps({"before": backend, "backend": watch.backend, "reasons": reasons,
                          "fallback_reason": watch.fallback_reason}))
        task.cancel()

    asyncio.run(main())
    """
)


def limited(tmp_path: Path, limit: str, value: int, mkdir: bool = False) -> dict[str, object]:
    """Run LIMITED in a user namespace where /proc/sys/user/LIMIT is `value`."""
    script = tmp_path / "limited.py"
    script.write_text(LIMITED)
    setting = f"echo {value} > /proc/sys/user/{limit}"
    command = f'{setting} && exec "$0" "$@"'
    args = [sys.executable, str(script), str(tmp_path / "docs"), "mkdir" if mkdir else "-"]
    done = subprocess.run(
        ["unshare", "--user", "--map-root-user", "sh", "-c", command, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_refused_watches_fall_back_to_polling(tmp_path: Path) -> None:
    """fs.inotify.max_user_watches reached at the start: polled, said once, still noticed."""
    docs_in(tmp_path / "docs" / "sub", "b.yaml")
    docs_in(tmp_path / "docs", "a.yaml")
    result = limited(tmp_path, "max_inotify_watches", 1)
    assert result["before"] == result["backend"] == "watchfiles polling"
    assert "max_user_watches" in str(result["fallback_reason"])
    reasons = [str(r) for r in result["reasons"]]  # type: ignore[attr-defined]
    assert reasons[0].startswith("file watch: the kernel refused inotify")
    assert any("a.yaml" in r for r in reasons[1:]), reasons


def test_a_new_folder_refused_a_watch_falls_back(tmp_path: Path) -> None:
    """Watches for docs and the folder holding it fit; a new subfolder's does not."""
    docs_in(tmp_path / "docs", "a.yaml")
    result = limited(tmp_path, "max_inotify_watches", 2, mkdir=True)
    assert (result["before"], result["backend"]) == ("inotify", "watchfiles polling")
    assert "max_user_watches" in str(result["fallback_reason"])
    assert any("x.yaml" in str(r) for r in result["reasons"]), result  # type: ignore[attr-defined]


def test_refused_instances_fall_back_to_polling(tmp_path: Path) -> None:
    docs_in(tmp_path / "docs", "a.yaml")
    result = limited(tmp_path, "max_inotify_instances", 0)
    assert result["backend"] == "watchfiles polling"
    assert "max_user_instances" in str(result["fallback_reason"])
    assert any("a.yaml" in str(r) for r in result["reasons"]), result  # type: ignore[attr-defined]
