"""The runbooks of docs/operations/runbooks/ work: their runnable blocks, run in order.

Each runbook with blocks fenced `sh runnable` gets a fresh practice box
(controller/testing/box.py: the MediaMTX emulator and `camctl run` as services, simulated
cameras, copies of the examples, `systemctl`, `journalctl` and `sudo` acting on them). Its
blocks run one after the other in one `sh -eu`, from the repository root (where
`manifests/` is), as a person would paste them into one terminal: any command that fails
fails the test, with the block, its output and camctl's log. Some runbooks start from a
box in a given state (camctl installed by camctl-host.sh, say): GIVEN prepares it, as the
runbook's text says.

Every runbook is linked from the runbooks' README. (That every alert links its runbook is
tests/test_prometheus.py's.)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from test_host_lifecycle import A, B, wheels  # noqa: F401  (wheels: the fixture)

from controller.testing.box import Box, practice_box

ROOT = Path(__file__).resolve().parents[1]
RUNBOOKS = ROOT / "docs" / "operations" / "runbooks"
HOST_SCRIPT = "manifests/systemd/camctl-host.sh"
BLOCK = re.compile(r"^```sh runnable\n(.*?)^```$", re.S | re.M)
ROUTINE = [
    "add-a-camera",
    "rotate-view-tokens",
    "mediamtx-down",
    "disk-low",
    "upgrade",
    "rollback",
    "lost-state-directory",
    "replace-a-node",
]


def blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text())


def runnable() -> list[str]:
    return sorted(p.stem for p in RUNBOOKS.glob("*.md") if blocks(p))


def sh(
    box: Box, script: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", "-eu", "-c", script],
        cwd=ROOT,
        env=box.env() | (env or {}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # in the order they came, for the failure message
        text=True,
        timeout=600,
    )


# --- what some runbooks start from ------------------------------------------------------


def installed(box: Box, folders: dict[str, Path], *versions: str) -> dict[str, str]:
    """camctl installed by camctl-host.sh (then upgraded to each later version), the box's
    camctl service running it; WHEELS is the folder of the version after the last."""
    for verb, version in zip(["install", "upgrade", "upgrade"], versions, strict=False):
        done = sh(box, f'sh {HOST_SCRIPT} {verb} --root "$HOST_ROOT" --wheels {folders[version]}')
        assert done.returncode == 0, done.stdout
    box.up()
    return {"WHEELS": str(folders[B])}


def fake_mediamtx(box: Box, folders: dict[str, Path]) -> dict[str, str]:
    """camctl-host.sh install wants MediaMTX's binary in place; the box's MediaMTX is the
    emulator, so a placeholder stands there."""
    binary = Path(box.settings()["HOST_ROOT"]) / "usr" / "local" / "bin" / "mediamtx"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\nexit 1\n")
    binary.chmod(0o755)
    return {}


GIVEN: dict[str, Callable[[Box, dict[str, Path]], dict[str, str]]] = {
    "upgrade": lambda box, w: fake_mediamtx(box, w) | installed(box, w, A),
    "rollback": lambda box, w: fake_mediamtx(box, w) | installed(box, w, A, B),
}


# --- the tests --------------------------------------------------------------------------


@pytest.mark.parametrize("name", runnable())
def test_the_runbook_works_on_a_practice_box(name: str, request: pytest.FixtureRequest) -> None:
    parts = blocks(RUNBOOKS / f"{name}.md")
    # The marker on a line of its own even after output without a newline (curl's).
    script = "".join(f"printf '\\n### block {i + 1}\\n'\n{b}" for i, b in enumerate(parts))
    with practice_box(ROOT / "examples") as box:
        env = GIVEN[name](box, request.getfixturevalue("wheels")) if name in GIVEN else {}
        done = sh(box, script, env)
        said = done.stdout
        where = re.findall(r"^### block (\d+)$", done.stdout, re.M)
        assert done.returncode == 0, (
            f"{name}.md, block {where[-1] if where else '?'} failed:\n"
            f"{parts[int(where[-1]) - 1] if where else ''}\n--- output\n{said[-4000:]}\n"
            f"--- camctl's log\n{box.journal('camctl', 40)}\n"
            f"--- MediaMTX's log\n{box.journal('mediamtx', 20)}"
        )
        assert len(where) == len(parts)
        assert "Traceback" not in said + box.journal("camctl", 1000), said[-4000:]


def test_every_routine_job_has_a_runbook_that_runs() -> None:
    assert set(ROUTINE) <= set(runnable()), set(ROUTINE) - set(runnable())


def test_the_readme_links_every_runbook() -> None:
    readme = (RUNBOOKS / "README.md").read_text()
    linked = set(re.findall(r"\]\(([\w-]+)\.md\)", readme))
    pages = {p.stem for p in RUNBOOKS.glob("*.md")} - {"README"}
    assert linked == pages


def test_the_practice_box_shell_runs_a_box_and_removes_it(tmp_path: Path) -> None:
    """`python -m controller.testing.box shell`, with a shell that runs two commands."""
    said = tmp_path / "said"
    shell = tmp_path / "shell"
    shell.write_text(
        "#!/bin/sh\n"
        "{ pwd; systemctl is-active camctl mediamtx; camctl status | head -n 2; }"
        f' > "{said}" 2>&1\n'
    )
    shell.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"} | {"SHELL": str(shell)}
    done = subprocess.run(
        [sys.executable, "-m", "controller.testing.box", "shell"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    folder, *rest = said.read_text().splitlines()
    assert rest[:2] == ["active", "active"], rest
    assert rest[2].startswith("controller ") and "reachable" in rest[3], rest
    assert not Path(folder).exists(), "the box is removed when its shell exits"
