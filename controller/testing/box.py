"""A practice box: an edge box in a folder, for rehearsing the runbooks, and for the tests
that run their blocks (tests/test_runbooks.py).

MediaMTX is the emulator (`camctl demo --emulator-only`), the cameras are the simulated ones
of a copy of examples/devices.yaml, the documents a copy of examples/gitops, and camctl is
`camctl run` with its view and a token file, exactly as on a box. What a box has and a
folder does not is systemd: `systemctl` (start, stop, restart, status, is-active; enable and
daemon-reload do nothing), `journalctl -u UNIT [-n N]` and `sudo` are small commands in the
box's `bin/`, first on the PATH of the box's shell, acting on the two services as processes.
The `camctl` service runs the box's `root/opt/camctl/current/bin/camctl` once camctl-host.sh has
installed one there (`--root "$HOST_ROOT"`), this checkout's camctl before that.

    python -m controller.testing.box shell     # a shell on a fresh box; exit stops it
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

import click

UNITS = ("mediamtx", "camctl")
TOKEN = "practice-box-viewer-token-0123456789"  # a throwaway box's own, in its token file
STOP_SECONDS = 10.0  # as camctl.service's TimeoutStopSec


def free_ports(count: int) -> list[int]:
    """Ports nothing listens on, all different (held together while they are picked)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]


class Box:
    """A box in `folder`: its settings in `env`, its services run from `bin/systemctl`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env_file = folder / "camctl.env"

    # --- making one ---------------------------------------------------------------------
    @classmethod
    def create(cls, folder: Path, examples: Path) -> Box:
        box = cls(folder)
        shutil.copytree(examples / "gitops", folder / "documents")
        shutil.copy(examples / "devices.yaml", folder / "devices.yaml")
        for sub in ("state", "recordings", "log", "run", "bin", "root"):
            (folder / sub).mkdir()
        tokens = folder / "view-tokens"
        tokens.write_text(f"{TOKEN}\n")
        tokens.chmod(0o600)
        api, playback, view = free_ports(3)
        settings = {
            "DOCS": folder / "documents",
            "CAMCTL_MEDIAMTX_URL": f"http://127.0.0.1:{api}",
            "CAMCTL_STATE_DIR": folder / "state",
            "CAMCTL_SIMULATE_DEVICES": folder / "devices.yaml",
            "CAMCTL_RECORDINGS_ROOT": folder / "recordings",
            "CAMCTL_PLAYBACK_PORT": playback,
            "CAMCTL_VIEW": f"127.0.0.1:{view}",
            "CAMCTL_VIEW_URL": f"http://127.0.0.1:{view}",
            "CAMCTL_VIEW_TOKEN_FILE": tokens,
            "CAMCTL_BOX": folder,
            # camctl-host.sh on the box: its paths under root/, its venvs made by this Python
            # (the wheels are built for it), systemd's users left alone.
            "HOST_ROOT": folder / "root",
            "PYTHON": Path(sys.base_prefix)
            / "bin"
            / f"python{sys.version_info[0]}.{sys.version_info[1]}",
            "SYSTEMD_SYSUSERS": "true",
        }
        box.env_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        box._commands()
        return box

    def _commands(self) -> None:
        """systemctl, journalctl and sudo for the box's shell."""
        python = sys.executable
        for name in ("systemctl", "journalctl"):
            script = (
                f"#!/bin/sh\nCAMCTL_BOX={_quote(self.folder)} "
                f'exec {_quote(python)} -m controller.testing.box {name} "$@"\n'
            )
            _executable(self.folder / "bin" / name, script)
        sudo = '#!/bin/sh\nwhile [ "${1#-}" != "$1" ]; do shift; done\nexec "$@"\n'
        _executable(self.folder / "bin" / "sudo", sudo)

    # --- its settings -------------------------------------------------------------------
    def settings(self) -> dict[str, str]:
        lines = self.env_file.read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)

    def env(self) -> dict[str, str]:
        """The environment of the box's shell: its settings, its bin/ and camctl on PATH."""
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("CAMCTL_", "LD_"))}
        installed = self.folder / "root" / "usr" / "local" / "bin"  # camctl-host.sh's link
        path = f"{self.folder / 'bin'}:{installed}:{Path(sys.executable).parent}"
        path += f":{keep.get('PATH', '')}"
        return keep | self.settings() | {"PATH": path}

    # --- its services -------------------------------------------------------------------
    def command(self, unit: str) -> list[str]:
        s = self.settings()
        if unit == "mediamtx":
            port, playback = s["CAMCTL_MEDIAMTX_URL"].rsplit(":", 1)[1], s["CAMCTL_PLAYBACK_PORT"]
            demo = ["demo", "--emulator-only", "--port", port, "--playback-port", playback]
            return [sys.executable, "-m", "controller", *demo]
        installed = Path(s["HOST_ROOT"]) / "opt" / "camctl" / "current" / "bin" / "camctl"
        camctl = [str(installed)] if installed.exists() else [sys.executable, "-m", "controller"]
        return [*camctl, "run", s["DOCS"]]

    def pid(self, unit: str) -> int | None:
        try:
            pid = int((self.folder / "run" / f"{unit}.pid").read_text())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    def start(self, unit: str) -> None:
        if self.pid(unit) is not None:
            return
        log = (self.folder / "log" / f"{unit}.log").open("ab")
        with log:
            process = subprocess.Popen(
                self.command(unit),
                env=self.env(),
                cwd=self.folder,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        (self.folder / "run" / f"{unit}.pid").write_text(str(process.pid))

    def stop(self, unit: str) -> None:
        pid = self.pid(unit)
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        (self.folder / "run" / f"{unit}.pid").unlink(missing_ok=True)

    def up(self, timeout: float = 60) -> None:
        """Start both services and wait for camctl's first pass (its view's /readyz)."""
        for unit in UNITS:
            self.start(unit)
        url = self.settings()["CAMCTL_VIEW_URL"] + "/readyz"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"the box's camctl is not ready:\n{self.journal('camctl', 30)}")

    def down(self) -> None:
        for unit in reversed(UNITS):
            self.stop(unit)

    def journal(self, unit: str, lines: int = 50) -> str:
        path = self.folder / "log" / f"{unit}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def practice_box(examples: Path = Path("examples")) -> Iterator[Box]:
    """A fresh box with both services up; everything stopped and removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="camctl-box-") as folder:
        box = Box.create(Path(folder), examples)
        try:
            box.up()
            yield box
        finally:
            box.down()


def _alive(pid: int) -> bool:
    """Running, and not a zombie waiting for its parent (the shell that started it)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _quote(path: Path | str) -> str:
    return "'" + str(path).replace("'", "'\\''") + "'"


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def _units(names: Sequence[str]) -> list[str]:
    units = [n.removesuffix(".service") for n in names]
    unknown = [u for u in units if u not in UNITS]
    if unknown:
        raise click.ClickException(f"Unit {unknown[0]}.service not found.")
    return units


# --- the box's commands ---------------------------------------------------------------


@click.group()
def main() -> None:
    """The practice box's systemd commands, and a shell on a new box."""


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("verb")
@click.argument("names", nargs=-1)
def systemctl(verb: str, names: tuple[str, ...]) -> None:
    """systemctl VERB UNIT...: start, stop, restart, status, is-active."""
    box = Box(Path(os.environ["CAMCTL_BOX"]))
    names = tuple(n for n in names if not n.startswith("-"))
    if verb in ("daemon-reload", "enable", "disable"):
        return  # nothing to do: the box has no unit files
    units = _units(names)
    if verb in ("stop", "restart"):
        for unit in units:
            box.stop(unit)
    if verb in ("start", "restart"):
        for unit in units:
            box.start(unit)
    elif verb in ("status", "is-active"):
        for unit in units:
            pid = box.pid(unit)
            state = "active" if pid else "inactive"
            click.echo(state if verb == "is-active" else f"{unit}.service: {state} (pid {pid})")
        if not all(box.pid(u) for u in units):
            sys.exit(3)
    elif verb != "stop":
        raise click.ClickException(f"the practice box's systemctl does not {verb}")


@main.command()
@click.option("-u", "--unit", "unit", required=True)
@click.option("-n", "--lines", type=int, default=50)
@click.option("--no-pager", is_flag=True)
def journalctl(unit: str, lines: int, no_pager: bool) -> None:
    """journalctl -u UNIT [-n N]: the last lines of a service's output."""
    (name,) = _units([unit])
    click.echo(Box(Path(os.environ["CAMCTL_BOX"])).journal(name, lines))


@main.command()
def shell() -> None:
    """A shell on a fresh box (from the repository root); the box goes when it exits."""
    with practice_box() as box:
        click.echo(f"Practice box in {box.folder}: MediaMTX emulator and camctl running.")
        click.echo("Try: camctl status; systemctl restart mediamtx; journalctl -u camctl")
        subprocess.run([os.environ.get("SHELL", "/bin/sh")], env=box.env(), cwd=box.folder)


if __name__ == "__main__":
    main()
