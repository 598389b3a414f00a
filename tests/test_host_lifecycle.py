"""camctl-host.sh on a bare edge box: install, upgrade and roll back camctl under a temporary root.

Builds of this tree that differ only in their version are turned into wheel folders (camctl's
wheel and its dependencies'), which the script installs offline: no index, no pip
configuration, and a proxy that refuses every connection. `--root` prefixes every path the
script touches; systemctl and systemd-sysusers are a stub that records its arguments. camctl
then runs the way the installed unit runs it, against the MediaMTX emulator with simulated
devices, and MediaMTX must see no write across an upgrade and a rollback.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.sinks.statusfiles import StatusStore
from controller.testing.mediamtx import MediaMTXEmulator, run_in_thread

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "manifests" / "systemd" / "camctl-host.sh"
UNITS = ROOT / "manifests" / "systemd"
EXAMPLES = ROOT / "examples" / "gitops"
DEVICES = ROOT / "examples" / "devices.yaml"
EXAMPLE_PATHS = {"cams/front-door", "cams/garage", "cams/workshop"}
A, B, C = "0.90.0", "0.91.0", "0.92.0"  # three builds of this tree
WAIT = 20.0  # wide: a fresh virtual environment imports everything from cold files
# The interpreter the wheels are built for: the one this test environment was made from.
PYTHON = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
INSTALL_CALLS = [
    "daemon-reload",
    "enable mediamtx.service camctl.service",
    "start mediamtx.service",
    "restart camctl.service",
]


# --- the wheels -----------------------------------------------------------------------


def source_tree(dest: Path, version: str) -> Path:
    """A copy of what builds the distribution, with `version` in place of ours."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "controller", dest / "controller", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    pyproject = dest / "pyproject.toml"
    text, found = re.subn(
        r'(?m)^version = "[^"]*"$', f'version = "{version}"', pyproject.read_text()
    )
    assert found == 1, "pyproject.toml has no `version = ...` line"
    pyproject.write_text(text)
    # `camctl --version` prints controller.__version__, which is set beside pyproject's.
    init = dest / "controller" / "__init__.py"
    init.write_text(
        re.sub(r'(?m)^__version__ = "[^"]*"$', f'__version__ = "{version}"', init.read_text())
    )
    return dest


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One folder per version: its camctl wheel and every dependency's, as shipped to a box."""
    work = tmp_path_factory.mktemp("wheels")
    trees = [source_tree(work / f"src-{v}", v) for v in (A, B, C)]
    built = work / "built"
    # A with its dependencies; B and C alone (pip resolves one version of a name per run).
    for tree, deps in zip(trees, ([], ["--no-deps"], ["--no-deps"]), strict=True):
        done = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "-w", str(built), *deps, str(tree)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr
    ours = {v: built / f"camctl-{v}-py3-none-any.whl" for v in (A, B, C)}
    folders = {}
    for version, wheel in ours.items():
        folder = work / f"wheels-{version}"
        folder.mkdir()
        for path in built.glob("*.whl"):
            if path == wheel or path not in ours.values():
                os.link(path, folder / path.name)
        folders[version] = folder
    return folders


# --- the box --------------------------------------------------------------------------


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without pip's or camctl's settings, or the test's preload."""
    drop = ("PIP_", "CAMCTL_", "PYTHON", "LD_PRELOAD", "UMOCKDEV_DIR", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)} | (extra or {})


def offline_env(extra: dict[str, str]) -> dict[str, str]:
    """For the script: no pip configuration, and a proxy that refuses every connection."""
    proxies = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY")
    env = {k: v for k, v in clean_env(extra).items() if k not in proxies}
    env["PIP_CONFIG_FILE"] = os.devnull  # no index or find-links from pip.conf
    for proxy in proxies[:4]:
        env[proxy] = "http://127.0.0.1:9"  # the discard port: nothing listens there
    return env


class Host:
    """A temporary root with MediaMTX's binary in place, and systemctl as a recording stub."""

    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path / "root"
        (self.root / "usr" / "local" / "bin").mkdir(parents=True)
        mediamtx = self.root / "usr" / "local" / "bin" / "mediamtx"
        mediamtx.write_text("#!/bin/sh\nexit 1\n")  # install checks it is there; it never runs
        mediamtx.chmod(0o755)
        self.calls = tmp_path / "systemctl.log"
        self.sysusers = tmp_path / "sysusers.log"
        for name, log in (("systemctl", self.calls), ("systemd-sysusers", self.sysusers)):
            stub = tmp_path / name
            stub.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$*\" >> {shlex.quote(str(log))}\n")
            stub.chmod(0o755)
        self.env = offline_env(
            {
                "SYSTEMCTL": str(tmp_path / "systemctl"),
                "SYSTEMD_SYSUSERS": str(tmp_path / "systemd-sysusers"),
                "PYTHON": str(PYTHON),
            }
        )
        self.base = self.root / "opt" / "camctl"

    def run(self, *args: str | Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(SCRIPT), str(args[0]), "--root", str(self.root), *map(str, args[1:])]
        done = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=600)
        if ok:
            assert done.returncode == 0, f"{shlex.join(command)}:\n{done.stdout}{done.stderr}"
        return done

    def systemctl(self) -> list[str]:
        """The systemctl calls since the last look."""
        calls = self.calls.read_text().splitlines() if self.calls.exists() else []
        self.calls.unlink(missing_ok=True)
        return calls

    def links(self) -> tuple[str | None, str | None]:
        """The versions `current` and `previous` point to."""

        def version(name: str) -> str | None:
            link = self.base / name
            return os.readlink(link).split("/")[1] if link.is_symlink() else None

        return version("current"), version("previous")

    def installed(self) -> set[str]:
        return {p.name for p in (self.base / "versions").iterdir()}

    def exec_start(self) -> list[str]:
        """The installed unit's command, its program under the root."""
        unit = (self.root / "etc" / "systemd" / "system" / "camctl.service").read_text()
        (line,) = [x for x in unit.splitlines() if x.startswith("ExecStart=")]
        program, *args = shlex.split(line.removeprefix("ExecStart="))
        return [str(self.root) + program, *args]


@pytest.fixture
def host(tmp_path: Path) -> Host:
    return Host(tmp_path)


def camctl_version(program: Path | str) -> str:
    done = subprocess.run(
        [str(program), "--version"], capture_output=True, text=True, timeout=60, env=clean_env()
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[-1]


# --- camctl run, as the unit runs it --------------------------------------------------


@pytest.fixture
def emu() -> Iterator[MediaMTXEmulator]:
    emulator = MediaMTXEmulator()
    with run_in_thread(emulator):
        yield emulator


def health(state: Path) -> dict[str, Any]:
    """The controller's health, from its status file (what `camctl status` shows)."""
    controller, _ = StatusStore(state).read()
    return controller or {}


def run_until_converged(
    host: Host, emu: MediaMTXEmulator, docs: Path, state: Path, log: Path
) -> str:
    """Start the unit's program with the test's arguments, wait for a successful pass with
    MediaMTX holding the examples' paths, stop it with SIGTERM; the interpreter it ran."""
    program = host.exec_start()[0]
    assert emu.url
    before = health(state).get("started")
    args = [program, "run", str(docs), "--mediamtx", emu.url]
    args += ["--simulate-devices", str(DEVICES), "--state-dir", str(state)]
    with log.open("wb") as err:
        process = subprocess.Popen(
            args,
            env=clean_env(),
            cwd=log.parent,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        deadline = time.monotonic() + WAIT
        while True:
            now = health(state)
            fresh = now.get("started") != before and now.get("lastSuccess")
            if fresh and set(emu.path_names()) == EXAMPLE_PATHS:
                break
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"camctl did not converge:\n{log.read_text()}", pytrace=False)
            time.sleep(0.02)
        interpreter = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")[0]
        process.send_signal(signal.SIGTERM)
        assert process.wait(WAIT) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(WAIT)
    return interpreter.decode()


# --- the tests ------------------------------------------------------------------------


def test_upgrade_and_rollback_switch_camctl_and_never_write_to_mediamtx(
    host: Host, wheels: dict[str, Path], emu: MediaMTXEmulator, tmp_path: Path
) -> None:
    docs = Path(shutil.copytree(EXAMPLES, tmp_path / "documents"))
    state = tmp_path / "state"

    host.run("install", "--wheels", wheels[A])
    assert host.links() == (A, None)
    assert camctl_version(host.base / "current" / "bin" / "camctl") == A
    assert camctl_version(host.root / "usr" / "local" / "bin" / "camctl") == A
    assert host.systemctl() == INSTALL_CALLS
    interpreter = run_until_converged(host, emu, docs, state, tmp_path / "a.log")
    assert interpreter.startswith(f"{host.base}/versions/{A}/venv/")
    writes = emu.write_count
    assert writes >= len(EXAMPLE_PATHS)  # A added the paths
    requests = len(emu.requests)

    host.run("upgrade", "--wheels", wheels[B])
    assert host.links() == (B, A)
    assert camctl_version(host.base / "current" / "bin" / "camctl") == B
    assert camctl_version(host.base / "previous" / "bin" / "camctl") == A
    assert host.systemctl() == ["restart camctl.service"]  # camctl only, never MediaMTX
    interpreter = run_until_converged(host, emu, docs, state, tmp_path / "b.log")
    assert interpreter.startswith(f"{host.base}/versions/{B}/venv/")
    assert emu.write_count == writes

    host.run("rollback")
    assert host.links() == (A, B)
    assert camctl_version(host.base / "current" / "bin" / "camctl") == A
    assert host.systemctl() == ["restart camctl.service"]
    interpreter = run_until_converged(host, emu, docs, state, tmp_path / "a-again.log")
    assert interpreter.startswith(f"{host.base}/versions/{A}/venv/")
    assert emu.write_count == writes
    assert [m for m, _, _ in emu.requests[requests:] if m != "GET"] == []

    # Rolling back twice returns to where it was.
    host.run("rollback")
    assert host.links() == (B, A)
    host.run("rollback")
    assert host.links() == (A, B)
    assert host.systemctl() == ["restart camctl.service"] * 2

    # A third version: the one rolled back from goes, the running one stays as previous.
    host.run("upgrade", "--wheels", wheels[C])
    assert host.links() == (C, A)
    assert host.installed() == {A, C}
    assert host.systemctl() == ["restart camctl.service"]


def test_install_again_changes_nothing_and_never_touches_mediamtx(
    host: Host, wheels: dict[str, Path]
) -> None:
    cli = host.root / "usr" / "local" / "bin" / "camctl"
    cli.write_text("#!/bin/sh\necho 'a camctl installed otherwise'\n")  # not ours to replace
    done = host.run("install", "--wheels", wheels[A])
    assert f"left {cli} alone" in done.stdout
    assert not cli.is_symlink() and "installed otherwise" in cli.read_text()
    assert host.systemctl() == INSTALL_CALLS
    assert host.sysusers.read_text().split() == [
        f"--root={host.root}",
        f"{host.root}/etc/sysusers.d/camctl.conf",
    ]
    etc = host.root / "etc"
    assert (etc / "systemd" / "system" / "camctl.service").read_bytes() == (
        UNITS / "camctl.service"
    ).read_bytes()
    config = etc / "mediamtx" / "mediamtx.yml"
    assert config.read_bytes() == (ROOT / "manifests" / "base" / "mediamtx.yml").read_bytes()
    config.write_text(config.read_text() + "# edited on this box\n")
    edited = config.read_text()
    venv = host.base / "versions" / A / "venv" / "pyvenv.cfg"
    built = venv.stat()

    host.run("install", "--wheels", wheels[A])

    # Enabled and started (no-ops for running units); nothing restarted, nothing reloaded.
    assert host.systemctl() == [
        "enable mediamtx.service camctl.service",
        "start mediamtx.service",
        "start camctl.service",
    ]
    assert config.read_text() == edited  # MediaMTX would reload it and drop camctl's paths
    assert (venv.stat().st_ino, venv.stat().st_mtime_ns) == (built.st_ino, built.st_mtime_ns)
    assert host.links() == (A, None)

    done = host.run("upgrade", "--wheels", wheels[A])
    assert "already current" in done.stdout
    assert host.systemctl() == []

    # A changed camctl unit is rewritten, loaded, and restarts camctl (only).
    unit = etc / "systemd" / "system" / "camctl.service"
    unit.write_text(unit.read_text().replace("RestartSec=2s", "RestartSec=5s"))
    host.run("install", "--wheels", wheels[A])
    assert unit.read_bytes() == (UNITS / "camctl.service").read_bytes()
    assert host.systemctl() == INSTALL_CALLS


def test_what_fails_changes_nothing(host: Host, wheels: dict[str, Path], tmp_path: Path) -> None:
    done = host.run("upgrade", "--wheels", wheels[A], ok=False)
    assert done.returncode == 1 and "run install first" in done.stderr
    host.run("install", "--wheels", wheels[A])
    host.systemctl()

    # Without its dependencies, B cannot be installed offline: A stays, nothing restarts.
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy2(wheels[B] / f"camctl-{B}-py3-none-any.whl", lone)
    done = host.run("upgrade", "--wheels", lone, ok=False)
    assert done.returncode == 1
    assert f"installing camctl {B} failed; nothing else was changed" in done.stderr
    assert host.links() == (A, None) and host.installed() == {A}

    done = host.run("rollback", ok=False)
    assert done.returncode == 1 and "no previous version" in done.stderr

    both = tmp_path / "both"
    shutil.copytree(wheels[A], both)
    shutil.copy2(wheels[B] / f"camctl-{B}-py3-none-any.whl", both)
    done = host.run("upgrade", "--wheels", both, ok=False)
    assert done.returncode == 1 and "say which with --version" in done.stderr
    done = host.run("upgrade", "--wheels", both, "--version", "../x", ok=False)
    assert done.returncode == 1 and "no camctl ../x wheel" in done.stderr
    assert host.systemctl() == []
    assert camctl_version(host.base / "current" / "bin" / "camctl") == A


# --- the script itself, and what the docs say of it ------------------------------------


def test_the_script_is_posix_sh_and_shellcheck_clean() -> None:
    lines = SCRIPT.read_text().splitlines()
    assert lines[0] == "#!/bin/sh"
    assert "set -eu" in lines
    assert os.access(SCRIPT, os.X_OK)
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing (Debian: apt-get install shellcheck)"
    done = subprocess.run(
        [shellcheck, "--shell=sh", str(SCRIPT)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout


def documented_commands() -> list[list[str]]:
    """Every camctl-host.sh command line in the shell blocks of the docs that show them."""
    commands = []
    for doc in (ROOT / "docs" / "deployment.md", UNITS / "README.md"):
        for block in re.findall(r"```sh\n(.*?)```", doc.read_text(), re.S):
            for line in block.splitlines():
                words = shlex.split(line, comments=True)
                at = [i for i, w in enumerate(words) if w.endswith("camctl-host.sh")]
                commands += [words[i:] for i in at]
    return commands


def test_the_documented_commands_are_the_scripts() -> None:
    usage = subprocess.run([str(SCRIPT), "--help"], capture_output=True, text=True, timeout=60)
    assert usage.returncode == 0
    subcommands = set(re.findall(r"(?m)^  (\w+)  ", usage.stdout))
    assert subcommands == {"install", "upgrade", "rollback", "status"}
    options = set(re.findall(r"--[a-z]+", usage.stdout))
    commands = documented_commands()
    assert {c[1] for c in commands} == subcommands  # every one is documented
    for command in commands:
        assert command[1] in subcommands, command
        assert {w for w in command if w.startswith("--")} <= options, command
