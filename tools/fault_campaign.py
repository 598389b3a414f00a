"""The fault campaign of issue 10, as a command anyone can re-run: bad input, odd files, other
spellings of the documents' folder, damaged state directories, slow saves and a hostile
recordings listing, each tried against real camctl commands and a MediaMTX emulator.

A fault *held* when camctl removed nothing it should keep (no DELETE, no PATCH turning
recording off or cutting retention), answered with located errors (never a traceback), and,
for the running controller, kept converging what the fault did not concern.

    .venv/bin/python tools/fault_campaign.py            # a table: class, tried, held, failed
    .venv/bin/python tools/fault_campaign.py -o json    # the same as data (the ORR reads it)

The exit status is 1 when any fault did not hold.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from controller.api.settings import Settings
from controller.cli import main
from controller.observe.devices import SimulatedDevices
from controller.observe.mediamtx import MediaMTXClient
from controller.reconcile.inventory import Inventory
from controller.reconcile.loop import Controller, Timing
from controller.sinks.statusfiles import StatusStore
from controller.sources.files import FileSource, load
from controller.testing.faults import ODD, cuts, replace_oddly
from controller.testing.mediamtx import MediaMTXEmulator, run_in_thread

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "gitops"
DEVICES = ROOT / "examples" / "devices.yaml"
FILES = ("cameras.yaml", "streams.yaml", "recordings.yaml")


@dataclass
class Tally:
    tried: int = 0
    held: int = 0
    failures: list[str] = field(default_factory=list)

    def count(self, held: bool, what: str) -> None:
        self.tried += 1
        if held:
            self.held += 1
        else:
            self.failures.append(what)


# --- the world ------------------------------------------------------------------------


@contextmanager
def converged() -> Iterator[tuple[MediaMTXEmulator, Path, Path]]:
    """A private copy of the examples applied to a fresh emulator: (emulator, docs, state)."""
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(shutil.copytree(EXAMPLES, Path(tmp) / "docs"))
        state = Path(tmp) / "state"
        emu = MediaMTXEmulator()
        with run_in_thread(emu):
            result = apply(emu, state, docs)
            if result.exit_code != 0:
                raise RuntimeError(f"the examples do not apply: {result.output}")
            yield emu, docs, state


def apply(emu: MediaMTXEmulator, state: Path, docs: str | Path) -> Any:
    args = ["apply", str(docs), "--mediamtx", emu.url or "", "--simulate-devices", str(DEVICES)]
    return CliRunner().invoke(main, [*args, "--state-dir", str(state)])


def losing(emu: MediaMTXEmulator, since: int) -> list[Any]:
    """The removals among the requests since `since`."""
    return [
        r
        for r in emu.requests[since:]
        if r[0] == "DELETE"
        or (r[0] == "PATCH" and (r[2].get("record") is False or "recordDeleteAfter" in r[2]))
    ]


def clean_answer(result: Any) -> bool:
    """A command that ended with its own message, not with an escaped exception."""
    return result.exception is None or isinstance(result.exception, SystemExit)


def applied_safely(emu: MediaMTXEmulator, state: Path, docs: str | Path) -> bool:
    since = len(emu.requests)
    result = apply(emu, state, docs)
    return clean_answer(result) and "Traceback" not in result.output and not losing(emu, since)


# --- the classes ----------------------------------------------------------------------


def spellings(tally: Tally) -> None:
    """The same documents, one of them broken, under other spellings of the folder."""
    with converged() as (emu, docs, state):
        (docs / "streams.yaml").write_text("kind: Stream\n  broken: [\n")
        link = docs.parent / "linked"
        link.symlink_to(docs)
        spelled = [str(docs), f"{docs}/", f"{docs}/../{docs.name}", str(link)]
        for cwd in (docs.parent, docs, Path("/")):
            os.chdir(cwd)
            for text in [*spelled, os.path.relpath(docs, cwd)]:
                tally.count(applied_safely(emu, state, text), f"{text} from {cwd}")
        os.chdir(ROOT)


def odd_files(tally: Tally) -> None:
    """Each file emptied, cut at every document boundary, or replaced by something odd."""
    for name in FILES:
        text = (EXAMPLES / name).read_text()
        for how in [*ODD, *cuts(text)]:
            with converged() as (emu, docs, state):
                replace_oddly(docs / name, how)
                if how.startswith("cut") and not load([docs]).errors:
                    # What is left is a clean, consistent set: its removals are declared ones.
                    held = clean_answer(apply(emu, state, docs))
                else:
                    held = applied_safely(emu, state, docs)
                tally.count(held, f"{name} {how}")


def broken_recordings(tally: Tally) -> None:
    """One Recording broken in every way the fault campaign found (unknown fields, bad or
    oddly typed values, a cross-reference error), in recordings.yaml."""
    text = (EXAMPLES / "recordings.yaml").read_text()
    edits = [
        ("  retention: 7d", "  retention: 7d\n  colour: red"),
        ("  format: fmp4", "  format: fmp4\n  foo: 1"),
        ("retention: 7d", "retention: seven"),
        ("retention: 7d", "retention: [7d]"),
        ("retention: 7d", "retention: 0.5s"),
        ("retention: 7d", "retention: 9999999999999999999d"),
        ("segmentDuration: 1h", "segmentDuration: 2d"),
        ("segmentDuration: 1h", "segmentDuration: {a: 1}"),
        ("format: fmp4", "format: mkv"),
        ("format: fmp4", "format: 3"),
        ("stream: front-door", "stream: nowhere"),
        ("stream: front-door", "stream: [front-door]"),
        ("stream: garage", "stream: front-door"),
        ("enabled: true", "enabled: maybe"),
        ("enabled: true", "enabled: ~"),
        ("kind: Recording", "kind: Recordings"),
        ("kind: Recording", "kind: [Recording]"),
        ("apiVersion: camctl.dev/v1alpha1", "apiVersion: camctl.dev/v1"),
        ("name: front-door", "name: Front Door"),
        ("name: front-door", "name: [x]"),
        ("metadata:", "metadata: ~\nx:"),
        ("spec:", "spec: ~\nx:"),
        ("spec:", "spec: []\nx:"),
        ("  root:", "  rooot:"),
        ("retention: 2d", "retention: 1m"),
        ("segmentDuration: 10m", "segmentDuration: 0s"),
        ("format: mpegts", "format: ~"),
        ("---", "--- !!binary"),
        ("---", "-- -"),
        ("stream: front-door", "stream: front-door\n  stream: garage"),
    ]
    for old, new in edits:
        if old not in text:
            continue
        with converged() as (emu, docs, state):
            (docs / "recordings.yaml").write_text(text.replace(old, new, 1))
            tally.count(applied_safely(emu, state, docs), f"{old!r} -> {new!r}")


def bad_values(tally: Tally) -> None:
    """Values no parser should choke on, anywhere in streams.yaml: validate must answer with
    located errors, and apply must remove nothing."""
    rng = random.Random(10)
    text = (EXAMPLES / "streams.yaml").read_text()
    values = [
        "\x00",
        "\x07",
        "\x1b",
        "9" * 4400,
        "[" * 2000 + "]" * 2000,
        "1e999",
        "-0",
        "{a: &a [1], b: *a}",
        "!!python/object:os.system ls",
        "&x *x",
        "\ufeff",
        "\u2028",
    ]
    for value in values:
        for _ in range(6):
            spot = rng.randrange(len(text))
            with converged() as (emu, docs, state):
                (docs / "streams.yaml").write_text(text[:spot] + value + text[spot:])
                checked = CliRunner().invoke(main, ["validate", str(docs)])
                located = clean_answer(checked) and "Traceback" not in checked.output
                tally.count(
                    located and applied_safely(emu, state, docs), f"{value[:12]!r} at {spot}"
                )


DAMAGES = [
    "inventory cut",
    "inventory not JSON",
    "inventory empty",
    "inventory a list",
    "inventory of a newer camctl",
    "inventory a folder",
    "lock a folder",
]


def damage(state: Path, how: str) -> None:
    inventory, lock = state / "inventory.json", state / "inventory.lock"
    if how == "inventory cut":
        inventory.write_text(inventory.read_text()[:40])
    elif how == "inventory not JSON":
        inventory.write_text("garbage")
    elif how == "inventory empty":
        inventory.write_text("")
    elif how == "inventory a list":
        inventory.write_text("[]")
    elif how == "inventory of a newer camctl":
        inventory.write_text('{"version": 99, "writer": "camctl 9", "paths": {}}')
    elif how == "inventory a folder":
        inventory.unlink()
        inventory.mkdir()
    elif how == "lock a folder":
        lock.unlink(missing_ok=True)
        lock.mkdir()


def damaged_state(tally: Tally) -> None:
    """The state directory damaged in each way the campaign found: nothing written, one line."""
    for how in DAMAGES:
        with converged() as (emu, docs, state):
            damage(state, how)
            (docs / "streams.yaml").unlink()  # a real removal: it must wait for the repair
            since = len(emu.requests)
            result = apply(emu, state, docs)
            quiet = not [r for r in emu.requests[since:] if r[0] != "GET"]
            located = clean_answer(result) and "Traceback" not in result.output
            tally.count(quiet and located and result.exit_code == 1, how)


def watching(
    client: MediaMTXClient,
    docs: Path,
    state: Path,
    settings: Settings | None = None,
    timing: Timing | None = None,
) -> Controller:
    """A controller over `docs` and the simulated cameras, with its state and status files
    in `state`."""
    return Controller(
        FileSource([docs]),
        SimulatedDevices(DEVICES),
        client,
        Inventory(state),
        settings or Settings(),
        timing or Timing(),
        sinks=[StatusStore(state)],
    )


def slow_saves(tally: Tally) -> None:
    """An editor writing a file in two steps with a pause shorter than the settle time, under
    the running controller: nothing is removed and re-added."""

    async def trial(emu: MediaMTXEmulator, docs: Path, state: Path, pause: float) -> bool:
        async with MediaMTXClient(emu.url or "") as client:
            controller = watching(client, docs, state, timing=replace(Timing(), settle=1.0))
            stop = asyncio.Event()
            task = asyncio.create_task(controller.run(stop))
            await asyncio.sleep(0.5)
            since = len(emu.requests)
            streams = docs / "streams.yaml"
            text = streams.read_text()
            cut = text.index("---", text.index("---") + 3)
            with streams.open("w") as out:
                out.write(text[:cut])
                out.flush()
                await asyncio.sleep(pause)
                out.write(text[cut:])
            await asyncio.sleep(1.5)
            stop.set()
            await task
            return not losing(emu, since)

    for pause in (0.05, 0.2, 0.4, 0.6, 0.8):
        with converged() as (emu, docs, state):
            tally.count(asyncio.run(trial(emu, docs, state, pause)), f"pause {pause}s")


def recordings_listing(tally: Tally) -> None:
    """A Recording's folder camctl may not read (a link out of its root), while MediaMTX
    answers odd segment listings: every pass still finishes."""
    listings: list[Any] = [
        {"segments": []},
        {"segments": [{"start": "not a time"}]},
        {"segments": None},
        {},
        {"segments": [1, "x", None]},
        [],
    ]

    async def trial(emu: MediaMTXEmulator, docs: Path, state: Path, root: Path) -> bool:
        async with MediaMTXClient(emu.url or "") as client:
            controller = watching(client, docs, state, Settings(recordings_roots=(str(root),)))
            await controller.reconcile()
            controller.inventory.release()
        return controller.health.errors == []

    for listing in listings:
        with converged() as (emu, docs, state), tempfile.TemporaryDirectory() as roots:
            root = Path(roots) / "rec"
            (root / "cams").mkdir(parents=True)
            (Path(roots) / "elsewhere").mkdir()
            (root / "cams" / "front-door").symlink_to(Path(roots) / "elsewhere")
            emu.recordings_answer = listing
            tally.count(asyncio.run(trial(emu, docs, state, root)), json.dumps(listing))


CLASSES: dict[str, Callable[[Tally], None]] = {
    "folder spellings": spellings,
    "emptied, cut and odd files": odd_files,
    "broken recordings.yaml": broken_recordings,
    "bad values anywhere": bad_values,
    "damaged state directory": damaged_state,
    "slow saves in two steps": slow_saves,
    "recordings listing faults": recordings_listing,
}


def campaign() -> dict[str, Tally]:
    tallies = {}
    for name, run in CLASSES.items():
        tally = tallies[name] = Tally()
        started = time.monotonic()
        try:
            run(tally)
        except Exception as exc:  # the class itself broke: that is a failure too
            tally.count(False, f"the class stopped: {exc!r}")
        print(
            f"  {name}: {tally.tried} tried in {time.monotonic() - started:.1f}s", file=sys.stderr
        )
    return tallies


def main_(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", choices=["text", "json"], default="text")
    options = parser.parse_args(argv)
    tallies = campaign()
    if options.output == "json":
        print(
            json.dumps(
                {
                    n: {"tried": t.tried, "held": t.held, "failed": t.failures}
                    for n, t in tallies.items()
                },
                indent=2,
            )
        )
    else:
        width = max(map(len, tallies))
        print(f"{'class'.ljust(width)}  tried  held  failed")
        for name, t in tallies.items():
            print(f"{name.ljust(width)}  {t.tried:5}  {t.held:4}  {len(t.failures):6}")
            for what in t.failures:
                print(f"{'':{width}}    failed: {what}")
    return 1 if any(t.failures for t in tallies.values()) else 0


if __name__ == "__main__":
    sys.exit(main_())
