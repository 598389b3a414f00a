"""A new user's first hour (issue 11): `make demo` and every command it prints, pasted as they
are into a shell; what the demo says without ffmpeg; `run --kubernetes` without a cluster;
errors that say what to do next; `-o json` on every command; the commands the docs show.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML
from test_view import TOKEN, serving

from controller.cli import main
from controller.observe.mediamtx import MediaMTXClient, MediaMTXError
from controller.sources.kubernetes.operator import SERVICE_ACCOUNT_TOKEN

ROOT = Path(__file__).resolve().parents[1]
NO_FFMPEG = "ffmpeg is not installed"


def free_port() -> int:
    """A port nothing listens on (free when asked; the caller binds it soon after)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def user_env(**changes: str) -> dict[str, str]:
    """The environment of a person's shell: no umockdev preload (no udev: simulated devices)."""
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    return env | changes


class Output:
    """A process's output lines as they come, read on a thread so that waiting for a line
    that never comes times out instead of blocking."""

    def __init__(self, stream: IO[str]) -> None:
        self.seen: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)

    def until(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        """The first line from now on matching `pattern`."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if found := re.search(pattern, line):
                return found
        raise AssertionError(f"no {pattern!r} in:\n{''.join(self.seen)[-3000:]}")

    def to_the_end(self, timeout: float = 60) -> list[str]:
        with contextlib.suppress(AssertionError):
            self.until(r"(?!)", timeout)  # matches nothing: reads until the stream ends
        return self.seen


@contextlib.contextmanager
def demo(*args: str, env: dict[str, str] | None = None) -> Iterator[Output]:
    """`camctl demo ARGS` from the repository root, as `make demo` runs it; stopped with
    Ctrl-C (SIGINT), exit 0 expected. Yields its output (stdout and stderr)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "controller", "demo", *args],
        cwd=ROOT,
        env=env or user_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output = Output(process.stdout)
    try:
        yield output
        process.send_signal(signal.SIGINT)
        assert process.wait(15) == 0, "".join(output.to_the_end(5))[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def wait_ready(url: str, timeout: float = 30) -> None:
    """Until the view at `url` has published a pass (/readyz answers 200)."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/readyz", timeout=2) as answer,
        ):
            if answer.status == 200:
                return
        time.sleep(0.3)
    raise AssertionError(f"the view at {url} never became ready")


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


# --- make demo, and the commands it prints ----------------------------------------------


def printed_commands(lines: list[str]) -> list[tuple[str, int]]:
    """Every command the demo printed for people, with the exit status it printed with it:
    the transcript (`$ COMMAND`, then `(exit N)`) and the suggestions (`  COMMAND  # exit N`)."""
    found: list[tuple[str, int]] = []
    ran: str | None = None
    for line in lines:
        if line.startswith("$ "):
            ran = line[2:].strip()
        elif ran and (done := re.fullmatch(r"\(exit (\d+)\)\n?", line)):
            found.append((ran, int(done[1])))
            ran = None
        elif suggested := re.fullmatch(r"  (\S.*?)  # exit (\d+)\b.*\n?", line):
            found.append((suggested[1], int(suggested[2])))
    return found


@pytest.mark.parametrize("with_view", [False, True], ids=["make-demo", "demo-view"])
def test_every_command_the_demo_prints_works_as_pasted(with_view: bool) -> None:
    port = free_port()
    with demo(*(["--view", f"127.0.0.1:{port}"] if with_view else [])) as output:
        state = Path(output.until(r"state in (\S+)")[1])
        if with_view:
            output.until(r"^Dashboard: http://127\.0\.0\.1:\d+/")
        output.until(r"^\$ .* run ")  # the controller is starting; all was printed
        if with_view:
            wait_ready(f"http://127.0.0.1:{port}")
        wait_for(lambda: (state / "status" / "controller.json").exists())  # a pass is done
        commands = printed_commands(output.seen)
        for command, documented in commands:
            shell = subprocess.run(
                command,
                shell=True,
                cwd=ROOT,
                env=user_env(),
                capture_output=True,
                text=True,
                timeout=60,
            )
            said = shell.stdout + shell.stderr
            assert shell.returncode != 127, f"$ {command}\n{said}"  # the shell found no camctl
            assert "Traceback" not in said, said
            if " apply " in command:  # the demo says so: its controller holds the state
                assert any("`apply` refuses meanwhile" in line for line in output.seen)
                assert shell.returncode == 1 and "in use by another camctl" in said, said
                continue
            assert shell.returncode == documented, f"$ {command}\n{said}"
        verbs = [
            re.search(r" (validate|apply|plan|status|get|recordings) ", c) for c, _ in commands
        ]
        assert all(verbs), commands
        assert [v[1] for v in verbs[:3] if v] == ["validate", "apply", "plan"]
        expected = {"status", "get", "recordings"} if with_view else {"status"}
        assert expected <= {v[1] for v in verbs[3:] if v}, commands
        assert not any(line.startswith(NO_FFMPEG) for line in output.seen)  # ffmpeg is here


def test_without_ffmpeg_the_demo_says_so_once() -> None:
    bare = user_env(PATH=str(Path(sys.executable).parent / "no-such-dir"))  # no ffmpeg there
    with demo("--once", env=bare) as output:
        seen = output.to_the_end()
    told = [line for line in seen if NO_FFMPEG in line]
    assert len(told) == 1, "".join(seen)
    assert "apt install ffmpeg" in told[0] and "no recording segments" in told[0]


def test_the_emulator_alone_serves_the_control_api_and_playback() -> None:
    """`camctl demo --emulator-only`: what the README's commands run against offline."""
    import urllib.error
    import urllib.request

    api, playback = free_port(), free_port()
    with demo("--emulator-only", "--port", str(api), "--playback-port", str(playback)) as output:
        output.until(rf"Control API at http://127\.0\.0\.1:{api}, playback server at "
                     rf"http://127\.0\.0\.1:{playback}\.")  # fmt: skip
        with urllib.request.urlopen(f"http://127.0.0.1:{api}/v3/info", timeout=5) as info:
            assert json.load(info)["version"] == "v1.20.1"
        with pytest.raises(urllib.error.HTTPError) as asked:  # the playback server's own answer
            urllib.request.urlopen(f"http://127.0.0.1:{playback}/get?path=x", timeout=5)
        assert asked.value.code == 400 and b"invalid start" in asked.value.read()


# --- camctl run --kubernetes without a cluster ------------------------------------------


def test_run_kubernetes_without_a_cluster_fails_at_once_in_one_line(tmp_path: Path) -> None:
    assert not os.path.exists(SERVICE_ACCOUNT_TOKEN), "this test needs a machine outside a pod"
    env = {k: v for k, v in user_env().items() if not k.startswith(("KUBERNETES_", "KUBECONFIG"))}
    env |= {"HOME": str(tmp_path), "CAMCTL_STATE_DIR": str(tmp_path / "state")}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "controller", "run", "--kubernetes"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert time.monotonic() - started < 20
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for looked_at in (
        "KUBERNETES_SERVICE_HOST unset",
        f"{SERVICE_ACCOUNT_TOKEN} absent",
        "KUBECONFIG (unset)",
        f"~/.kube/config ({tmp_path}/.kube/config absent)",
    ):
        assert looked_at in lines[0]


# --- errors that say what to do next ----------------------------------------------------


def invoke(*args: str, **env: str | None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def offline_plan(mediamtx: str, tmp_path: Path) -> list[str]:
    examples = ROOT / "examples"
    return ["plan", str(examples / "gitops"), "--mediamtx", mediamtx, "--state-dir",
            str(tmp_path), "--simulate-devices", str(examples / "devices.yaml")]  # fmt: skip


def test_mediamtx_unreachable_names_the_url_and_how_to_change_it(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    async def ask() -> str:
        async with MediaMTXClient(url) as client:
            with pytest.raises(MediaMTXError) as caught:
                await client.info()
        return str(caught.value)

    message = asyncio.run(ask())
    assert f"cannot reach MediaMTX at {url}" in message
    assert "--mediamtx or CAMCTL_MEDIAMTX_URL" in message
    code, output = invoke(*offline_plan(url, tmp_path))
    assert code == 1 and url in output and "--mediamtx or CAMCTL_MEDIAMTX_URL" in output


def test_a_mediamtx_url_without_scheme_is_named_with_a_fix(tmp_path: Path) -> None:
    code, output = invoke(*offline_plan("127.0.0.1:9997", tmp_path))
    assert code == 1
    assert "'127.0.0.1:9997' needs http:// or https://" in output
    assert "e.g. http://127.0.0.1:9997" in output and "--mediamtx" in output
    command = [
        "run",
        "examples/gitops",
        "--mediamtx",
        "localhost:9997",
        "--state-dir",
        str(tmp_path),
    ]
    run = subprocess.run(  # at once, before it starts anything
        [sys.executable, "-m", "controller", *command],
        cwd=ROOT,
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert run.returncode == 1 and "e.g. http://localhost:9997" in run.stderr


def test_an_unreachable_view_says_to_start_one() -> None:
    port = free_port()
    code, output = invoke("get", "streams", "--server", f"http://127.0.0.1:{port}")
    assert code == 1
    assert f"cannot reach the view at http://127.0.0.1:{port}: connection refused" in output
    assert f"camctl run PATHS --view 127.0.0.1:{port}" in output
    assert "--server or CAMCTL_VIEW_URL" in output


def test_a_view_url_without_scheme_is_named_with_a_fix() -> None:
    for command in (["get", "streams"], ["status"], ["recordings", "front-door"]):
        code, output = invoke(*command, "--server", "127.0.0.1:9990")
        assert code == 1, output
        assert "view URL '127.0.0.1:9990' needs http:// or https://" in output
        assert "e.g. http://127.0.0.1:9990" in output and "--server" in output


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_a_missing_token_and_a_wrong_one_are_told_apart(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong-token"
    wrong.write_text("not-the-token\n")
    empty = tmp_path / "empty"
    empty.write_text("# no token yet\n")
    unset = {"CAMCTL_VIEW_TOKEN": None, "CAMCTL_VIEW_TOKEN_FILE": None}
    async with serving(tmp_path / "world") as view:

        def get(*args: str, **env: str | None) -> tuple[int, str]:
            return invoke("get", "streams", "--server", view.url, *args, **(unset | env))

        code, missing = await asyncio.to_thread(get)
        assert code == 1
        assert "wants a bearer token" in missing
        for hint in ("--token-file", "--view-token-file", "CAMCTL_VIEW_TOKEN_FILE",
                     "CAMCTL_VIEW_TOKEN"):  # fmt: skip
            assert hint in missing
        code, refused = await asyncio.to_thread(get, "--token-file", str(wrong))
        assert code == 1
        assert "refused the token given" in refused and f"the token from {wrong}" in refused
        assert "--view-token-file" in refused and "wants a bearer token" not in refused
        code, from_env = await asyncio.to_thread(get, CAMCTL_VIEW_TOKEN="nope")
        assert code == 1 and "the token from CAMCTL_VIEW_TOKEN" in from_env
        code, nothing = await asyncio.to_thread(get, "--token-file", str(empty))
        assert code == 1 and f"{empty} holds no token" in nothing
        code, _ = await asyncio.to_thread(get, CAMCTL_VIEW_TOKEN=TOKEN)
        assert code == 0


# --- -o json ----------------------------------------------------------------------------


def test_every_command_that_prints_a_result_takes_o_json() -> None:
    for name, command in main.commands.items():
        options = {opt: p for p in command.params for opt in getattr(p, "opts", [])}
        if name == "run":  # it logs: --log-format json
            assert "json" in options["--log-format"].type.choices  # type: ignore[attr-defined]
            continue
        assert "json" in options["-o"].type.choices, name  # type: ignore[attr-defined]


def test_schema_and_crds_print_json_or_yaml(tmp_path: Path) -> None:
    code, schema = invoke("schema", "-o", "json")
    assert code == 0 and json.loads(schema)["$id"].startswith("https://camctl.dev/")
    yaml = YAML(typ="safe")
    code, schema_yaml = invoke("schema", "-o", "yaml")
    assert code == 0 and yaml.load(schema_yaml) == json.loads(schema)
    code, listed = invoke("crds", "-o", "json")
    crds = json.loads(listed)
    assert code == 0 and crds["kind"] == "List"
    assert [c["spec"]["names"]["kind"] for c in crds["items"]] == ["Camera", "Stream", "Recording"]
    code, documents = invoke("crds", "-o", "yaml")
    assert code == 0 and list(yaml.load_all(documents)) == crds["items"]
    code, refused = invoke("crds", "-o", "json", "-d", str(tmp_path))
    assert code == 2 and "-d writes YAML files" in refused
    code, text = invoke("schema", "-o", "text")
    assert code == 2 and "'json', 'yaml'" in text  # what it supports


def test_demo_refuses_o_json_and_says_why() -> None:
    code, output = invoke("demo", "-o", "json")
    assert code == 2
    assert "camctl demo is interactive and prints text only" in output


# --- what the docs show ------------------------------------------------------------------


def documented_commands() -> list[tuple[str, str]]:
    """(file, line) of every camctl command in a shell block of the README and docs/."""
    found = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        blocks = re.findall(r"```sh\n(.*?)```", doc.read_text(), re.S)
        for line in "\n".join(blocks).splitlines():
            line = line.split(" #", 1)[0].strip()
            if re.match(r"(\.venv/bin/)?camctl ", line):
                found.append((doc.name, line))
    return found


def test_every_documented_command_and_option_exists() -> None:
    commands = documented_commands()
    assert len(commands) > 10
    for doc, line in commands:
        words = shlex.split(line.split("|")[0].split(">")[0].split("&&")[0])
        command = main.commands.get(words[1])
        assert command is not None, f"{doc}: {line}"
        known = {opt for p in command.params for opt in getattr(p, "opts", [])}
        known |= {opt for p in command.params for opt in getattr(p, "secondary_opts", [])}
        for word in words[2:]:
            if word.startswith("-"):
                assert word.split("=")[0] in known | {"-h", "--help"}, f"{doc}: {line}"


def test_the_readme_says_how_to_check_the_install() -> None:
    readme = (ROOT / "README.md").read_text()
    for told in ("make demo", ". .venv/bin/activate", "camctl demo --view",
                 "camctl demo --emulator-only", "apt install ffmpeg"):  # fmt: skip
        assert told in readme
