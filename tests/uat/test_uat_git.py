"""The person who keeps the cameras in git.

They edit Camera, Stream and Recording documents on their laptop, commit and push; the box
pulls the repository and runs `camctl run` on its checkout. They never log in to the box:
what they see is what git, CI and camctl's status tell them.

Each story runs a real git repository (origin, the laptop's clone, the box's clone), and a
controller watching the box's checkout, on the MediaMTX emulator with the simulated
cameras of examples/devices.yaml.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from controller.testing.harness import SETTINGS, Running, eventually, running

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=Site", "-c", "user.email=site@example.invalid", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@dataclass
class Site:
    """The repository as the user's laptop holds it, and the box running camctl on it."""

    laptop: Path
    box: Path
    run: Running

    @property
    def cameras(self) -> Path:
        return self.laptop / "cameras"

    async def push(self, message: str) -> None:
        """Commit everything on the laptop, push, and let the box pull."""
        git(self.laptop, "add", "-A")
        git(self.laptop, "commit", "-qm", message)
        git(self.laptop, "push", "-q", "origin", "HEAD:main")
        await asyncio.to_thread(git, self.box, "pull", "-q", "--ff-only", "origin", "main")

    def edit(self, file: str, old: str, new: str) -> None:
        path = self.cameras / file
        text = path.read_text()
        assert old in text, f"{file}: no {old!r}"
        path.write_text(text.replace(old, new, 1))

    def ready(self, kind: str, name: str) -> tuple[str, str]:
        status = self.run.view.state.snapshot.by_ref.get((kind, "default", name))
        ready = next(
            (
                c
                for c in (status or {}).get("status", {}).get("conditions", [])
                if c["type"] == "Ready"
            ),
            {},
        )
        return ready.get("status", ""), ready.get("reason", "")

    def writes(self) -> list[tuple[str, str]]:
        """What camctl wrote to MediaMTX so far: (method, path)."""
        return [
            (m, p) for m, p, _ in self.run.emulator.requests if m in ("POST", "PATCH", "DELETE")
        ]

    async def camctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A camctl command as CI runs it on a checkout of the laptop's branch (in a thread:
        the emulator it may ask answers from this event loop)."""
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        return await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "controller", *args],
            cwd=self.laptop,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )


@asynccontextmanager
async def site(tmp_path: Path, *, leave_out: str | None = None) -> AsyncIterator[Site]:
    """examples/gitops as a repository (without the documents of `leave_out`), pushed to
    origin, cloned by the box, and a controller on the box's checkout."""
    origin, laptop, box = tmp_path / "origin.git", tmp_path / "laptop", tmp_path / "box"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    git(tmp_path, "clone", "-q", str(origin), str(laptop))
    shutil.copytree(EXAMPLES / "gitops", laptop / "cameras")
    if leave_out:
        for file in (laptop / "cameras").glob("*.yaml"):
            documents = file.read_text().split("\n---\n")
            file.write_text("\n---\n".join(d for d in documents if f"name: {leave_out}\n" not in d))
    git(laptop, "add", "-A")
    git(laptop, "commit", "-qm", "the cameras")
    git(laptop, "push", "-q", "origin", "HEAD:main")
    git(tmp_path, "clone", "-q", "-b", "main", str(origin), str(box))
    devices = tmp_path / "devices.yaml"
    shutil.copy(EXAMPLES / "devices.yaml", devices)
    settings = replace(SETTINGS, recordings_roots=(str(tmp_path / "recordings"),))
    async with running(box / "cameras", devices, tmp_path / "state", settings=settings) as run:
        await run.settle()
        yield Site(laptop, box, run)


async def test_a_camera_committed_to_git_streams_within_seconds(tmp_path: Path) -> None:
    """I add a camera by committing its documents to git, and it streams within seconds,
    without my logging in to the box and without touching the other cameras.

    Given the box runs camctl on its checkout of the repository, with front-door and
          garage declared and streaming,
    when I commit a Camera and a Stream for the workshop camera and the box pulls,
    then within 10 seconds the workshop Stream is Ready with an RTSP URL, MediaMTX has the
          path cams/workshop, and the only write camctl made was adding that path.
    """
    async with site(tmp_path, leave_out="workshop") as s:
        assert s.run.emulator.path_names() == ["cams/front-door", "cams/garage"]
        before = len(s.writes())
        for file in ("cameras.yaml", "streams.yaml"):
            ours = (EXAMPLES / "gitops" / file).read_text().split("\n---\n")
            workshop = next(d for d in ours if "name: workshop\n" in d)
            path = s.cameras / file
            path.write_text(path.read_text().rstrip("\n") + "\n---\n" + workshop)
        await s.push("the workshop camera")
        await eventually(lambda: s.ready("Stream", "workshop") == ("True", "PathConfigured"), 10)
        assert s.writes()[before:] == [("POST", "/v3/config/paths/add/cams/workshop")]
        stream = s.run.view.state.snapshot.by_ref[("Stream", "default", "workshop")]
        assert stream["status"]["urls"]["rtsp"].endswith("/cams/workshop")


async def test_a_broken_commit_takes_nothing_down_and_says_where(tmp_path: Path) -> None:
    """A typo I push never takes a camera down: camctl tells me the file, line and field,
    keeps what worked, and applies my fix when I push it.

    Given the box runs the examples,
    when I push a commit that sets front-door's fps to 300 and, in the same file, deletes
          the workshop Stream,
    then nothing is written to MediaMTX, every path stays, and camctl's health names
          streams.yaml with the line and the field spec.video.fps;
    when I push the fix (fps back to 30, workshop still deleted),
    then the error is gone and cams/workshop is deleted, once the documents have settled.
    """
    async with site(tmp_path) as s:
        before = len(s.writes())
        s.edit("streams.yaml", "fps: 30,", "fps: 300,")
        documents = (s.cameras / "streams.yaml").read_text().split("\n---\n")
        kept = [d for d in documents if "name: workshop\n" not in d]
        (s.cameras / "streams.yaml").write_text("\n---\n".join(kept))
        await s.push("faster front door, no workshop")
        errors = await eventually(lambda: s.run.controller.health.errors, 10)
        assert any("streams.yaml:" in e and "spec.video.fps" in e for e in errors), errors
        await s.run.settle()
        await asyncio.sleep(0.5)  # longer than the settle time: still nothing may happen
        assert s.writes()[before:] == []
        assert "cams/workshop" in s.run.emulator.path_names()
        s.edit("streams.yaml", "fps: 300,", "fps: 30,")
        await s.push("fix the typo")
        await eventually(lambda: "cams/workshop" not in s.run.emulator.path_names(), 10)
        assert s.run.controller.health.errors == []
        assert s.writes()[before:] == [("DELETE", "/v3/config/paths/delete/cams/workshop")]


async def test_a_pull_request_is_checked_before_it_is_merged(tmp_path: Path) -> None:
    """Before I merge a change, CI tells me whether it is valid and exactly what it would
    change on the box, without changing anything there.

    Given the box runs the examples, and I have a branch that lowers garage's bitrate,
    when CI runs `camctl validate` and `camctl plan -o json` on my branch against the box's
          MediaMTX and state,
    then validate passes, plan exits 2 and lists one patch: cams/garage's runOnDemand (the
          ffmpeg command, at 600,000 bit/s) and nothing else, and MediaMTX received no write;
    and when the branch has a typo, validate exits 1 and prints FILE:LINE:COL with the field.
    """
    async with site(tmp_path) as s:
        before = len(s.writes())
        s.edit("streams.yaml", "bitrate: 800k", "bitrate: 600k")
        box = ["--mediamtx", s.run.emulator.url or "", "--state-dir", str(tmp_path / "state")]
        box += ["--simulate-devices", str(tmp_path / "devices.yaml")]
        box += ["--recordings-root", str(tmp_path / "recordings")]
        assert (await s.camctl("validate", "cameras")).returncode == 0
        planned = await s.camctl("plan", "cameras", "-o", "json", *box)
        assert planned.returncode == 2, planned.stderr
        actions = json.loads(planned.stdout)["actions"]
        assert [(a["op"], a["path"]) for a in actions] == [("patch", "cams/garage")]
        assert set(actions[0]["diff"]) == {"runOnDemand"}, actions  # garage is onDemand
        assert "-b:v 600000 " in actions[0]["diff"]["runOnDemand"]["to"]  # bits a second
        assert s.writes()[before:] == []
        s.edit(
            "streams.yaml", "width: 640, height: 480, fps: 15", "width: 640, height: 480, fps: x"
        )
        invalid = await s.camctl("validate", "cameras")
        assert invalid.returncode == 1
        assert "cameras/streams.yaml:" in invalid.stdout + invalid.stderr
        assert "Stream/garage: spec.video.fps" in invalid.stdout + invalid.stderr


async def test_reverting_a_commit_puts_the_previous_settings_back(tmp_path: Path) -> None:
    """When a change turns out wrong, `git revert` brings the previous settings back, and
    only the camera I changed is touched, both ways.

    Given the box runs the examples,
    when I push a commit that raises front-door's bitrate to 4M,
    then camctl patches cams/front-door only (its ffmpeg command, now at 4,000,000 bit/s);
    when I push `git revert` of that commit,
    then camctl patches cams/front-door back to the command it had, and writes nothing else.
    """
    async with site(tmp_path) as s:
        before = len(s.writes())
        original = s.run.emulator.stored("cams/front-door")["runOnInit"]
        s.edit("streams.yaml", "bitrate: 2M}", "bitrate: 4M}")
        await s.push("more bits at the front door")
        await eventually(
            lambda: "4000000" in s.run.emulator.stored("cams/front-door")["runOnInit"], 10
        )
        git(s.laptop, "revert", "--no-edit", "HEAD")
        git(s.laptop, "push", "-q", "origin", "HEAD:main")
        await asyncio.to_thread(git, s.box, "pull", "-q", "--ff-only", "origin", "main")
        await eventually(
            lambda: s.run.emulator.stored("cams/front-door")["runOnInit"] == original, 10
        )
        patch = ("PATCH", "/v3/config/paths/patch/cams/front-door")
        assert s.writes()[before:] == [patch, patch]


async def test_a_camera_deleted_from_git_goes_once_the_change_has_settled(tmp_path: Path) -> None:
    """When I retire a camera by deleting its documents from git, its stream goes away
    from MediaMTX, and its recordings stay on disk.

    Given the box runs the examples, garage recording,
    when I delete the garage Camera, Stream and Recording and push,
    then camctl deletes cams/garage once the checkout has read the same for the settle
          time, and writes nothing else; the garage Recording's files are not touched.
    """
    async with site(tmp_path) as s:
        segment = s.run.emulator.record("cams/garage", datetime.now(UTC))
        before = len(s.writes())
        for file in ("cameras.yaml", "streams.yaml", "recordings.yaml"):
            documents = (s.cameras / file).read_text().split("\n---\n")
            kept = [d for d in documents if "name: garage\n" not in d]
            (s.cameras / file).write_text("\n---\n".join(kept))
        await s.push("the garage camera is gone")
        await eventually(lambda: "cams/garage" not in s.run.emulator.path_names(), 10)
        assert s.writes()[before:] == [("DELETE", "/v3/config/paths/delete/cams/garage")]
        assert s.run.emulator.path_names() == ["cams/front-door", "cams/workshop"]
        assert segment.is_file() and segment.stat().st_size > 0
