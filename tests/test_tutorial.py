"""docs/tutorial.md, run as a new user runs it: every command, in order, in one shell.

The tutorial's `sh` blocks become one script, run by `bash -eu` in an empty home folder
with a PATH that has no camctl on it. Blocks fenced `sh another-terminal` are what the
reader starts in another terminal: they run in the background, the script waits until
each is ready (the emulator's first line; the view's /readyz), and at the end each gets
Ctrl-C (SIGINT) and must exit 0. A command followed by `# exit N` must exit N; any other
must exit 0. The only changes to what the page says: `git clone` clones this tree (as
committed, plus uncommitted changes) from a local repository, and free ports stand in for
9997, 9996 and 9990.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial.md"
BLOCK = re.compile(r"^```(sh(?: another-terminal)?)\n(.*?)^```$", re.S | re.M)
CLONE = "git clone https://github.com/camctl/camctl.git"
EXPECT = re.compile(r"^(?P<command>[^#\n]*?)\s+# exit (?P<code>\d+)\b.*$", re.M)
READY = {  # what a command in another terminal prints once it is ready
    "demo --emulator-only": "Control API at",
    " run ": "view at",
}


def free_ports(count: int) -> list[int]:
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]


def checked(match: re.Match[str]) -> str:
    """`COMMAND  # exit N` as a line that fails unless COMMAND exits N."""
    command, code = match["command"].strip(), match["code"]
    said = shlex.quote(f"expected exit {code}: {command}")
    return (
        f"if {command}; then rc=0; else rc=$?; fi\n"
        f'[ "$rc" -eq {code} ] || {{ echo {said} "(got $rc)"; exit 1; }}'
    )


def background(number: int, block: str) -> str:
    """Start a block (one command) in the background, and wait until it is ready."""
    log = f"$HOME/terminal-{number}.log"
    pattern = next(p for key, p in READY.items() if key in block)
    wait = f'grep -q "{pattern}" {log}'
    lines = [
        f"{block.strip()} > {log} 2>&1 &",
        'echo $! >> "$HOME/terminals"',
        f"timeout 60 sh -c 'until {wait}; do sleep 0.2; done' || {{ cat {log}; exit 1; }}",
    ]
    if " run " in block:  # the view answers /readyz once the first pass is done
        ready = '"$CAMCTL_VIEW_URL/readyz"'
        lines.append(f"timeout 60 sh -c 'until curl -fs {ready} >/dev/null; do sleep 0.2; done'")
    return "\n".join(lines) + "\n"


# Job control on: commands started in the background get Ctrl-C (SIGINT), as in a terminal
# (without it a shell makes them ignore SIGINT). Whatever happens, none outlives the script.
PROLOGUE = """set -m
: > "$HOME/terminals"
trap 'for pid in $(cat "$HOME/terminals"); do kill "$pid" 2>/dev/null || true; done' EXIT
"""
# Ctrl-C in each other terminal, then each command's exit status.
EPILOGUE = """for pid in $(cat "$HOME/terminals"); do kill -INT "$pid"; done
for pid in $(cat "$HOME/terminals"); do
    if wait "$pid"; then echo "terminal: exit 0"; else echo "terminal: exit $?"; fi
done
: > "$HOME/terminals"
echo TUTORIAL-DONE
"""


def script(text: str, repository: Path) -> str:
    api, playback, view = free_ports(3)
    ports = {"9997": str(api), "9996": str(playback), "9990": str(view)}
    text = re.sub(r"\b(9997|9996|9990)\b", lambda m: ports[m[1]], text)
    parts = []
    for number, (kind, block) in enumerate(BLOCK.findall(text), 1):
        if kind == "sh another-terminal":
            parts.append(background(number, block))
        else:
            block = block.replace(CLONE, f"git clone {repository} camctl")
            parts.append(EXPECT.sub(checked, block))
    return PROLOGUE + "".join(parts) + EPILOGUE


def repository(dest: Path) -> Path:
    """A git repository holding this tree as it is: what `git clone` fetches."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "tree"]):
        subprocess.run([*git, *command], cwd=dest, check=True, capture_output=True)
    return dest


def user_env(home: Path) -> dict[str, str]:
    """A new user's shell: no camctl on PATH, no camctl settings, no test preload."""
    ours = str(Path(sys.executable).parent)
    path = ":".join(p for p in os.environ["PATH"].split(":") if p != ours)
    drop = ("CAMCTL_", "LD_PRELOAD", "UMOCKDEV", "VIRTUAL_ENV", "PYTHONPATH")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return env | {"HOME": str(home), "PATH": path}


def test_the_tutorial_runs_as_written(tmp_path: Path) -> None:
    home, repo = tmp_path / "home", tmp_path / "repository"
    home.mkdir()
    repo.mkdir()
    text = TUTORIAL.read_text()
    assert CLONE in text, "the tutorial starts with a clone"
    (home / "tutorial.sh").write_text(script(text, repository(repo)))
    done = subprocess.run(
        ["bash", "-eu", "tutorial.sh"],
        cwd=home,
        env=user_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
    )
    said = done.stdout
    assert done.returncode == 0 and said.endswith("TUTORIAL-DONE\n"), said[-5000:]
    assert said.count("terminal: exit 0") == 2, said[-2000:]
    assert "Traceback" not in said
    assert re.search(r"^duration=\d+\.\d+$", said, re.M), said[-2000:]
    folder = home / "camctl" / "tutorial" / "recordings" / "cams" / "front-door"
    assert len(list(folder.glob("*.mp4"))) >= 2, said[-2000:]
