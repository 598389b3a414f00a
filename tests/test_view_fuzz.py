"""Hypothesis throws request bodies at the view's dispatcher: whatever arrives, the answer
is nothing (notifications) or well-formed JSON-RPC 2.0 with a known error code, and the
dispatcher never raises. It runs on a view of a controller after one real pass.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller import wiring
from controller.api.settings import Settings
from controller.observe.mediamtx import MediaMTXClient
from controller.reconcile.loop import Controller
from controller.testing.mediamtx import MediaMTXEmulator
from controller.view.server import HttpSession, View, served_methods

ROOT = Path(__file__).resolve().parents[1]
CODES = {-32700, -32600, -32601, -32602, -32603, -32000, -32001, -32002, -32003, -32004,
         -1000, -1005}  # fmt: skip
METHODS = sorted(m.name for m in served_methods())
PARAM_NAMES = ["name", "namespace", "limit", "continue", "labelSelector", "node", "owned",
               "since", "kinds", "subscription", "device", "filename", "offset", "auth_token",
               "token", "auth_type"]  # fmt: skip


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> Iterator[View]:
    root = tmp_path_factory.mktemp("fuzz")
    docs = Path(shutil.copytree(ROOT / "examples" / "gitops", root / "docs"))
    devices = Path(shutil.copy(ROOT / "examples" / "devices.yaml", root / "devices.yaml"))

    async def one_pass() -> Controller:
        emulator = MediaMTXEmulator()
        try:
            async with MediaMTXClient(await emulator.start()) as client:
                parts = wiring.Parts(
                    wiring.files([docs]), wiring.devices(devices), root / "state", Settings(),
                    sinks=[state],
                )  # fmt: skip
                controller = wiring.controller(parts, client)
                await controller.reconcile()
                await controller.reconcile()
                return controller
        finally:
            await emulator.stop()

    token = root / "tokens"
    token.write_text("fuzz-token\n")
    state = wiring.view(Settings(), root / "state")
    asyncio.run(one_pass())
    yield View(state, None, token)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
params = st.dictionaries(
    st.sampled_from(PARAM_NAMES) | st.text(max_size=8), json_values, max_size=4
)
requests = (
    st.fixed_dictionaries(
        {},
        optional={
            "jsonrpc": st.sampled_from(["2.0", "1.0", 2]) | json_values,
            "id": st.integers() | st.text(max_size=8) | json_values,
            "method": st.sampled_from(METHODS) | st.text(max_size=12) | json_values,
            "params": params | json_values,
        },
    )
    | json_values
)
bodies = (
    requests.map(lambda r: json.dumps(r).encode())
    | st.lists(requests, max_size=5).map(lambda r: json.dumps(r).encode())
    | st.binary(max_size=64)
)


def check(answer: bytes | None) -> None:
    if answer is None:
        return
    data = json.loads(answer)
    for item in data if isinstance(data, list) else [data]:
        assert item["jsonrpc"] == "2.0" and "id" in item
        assert ("result" in item) != ("error" in item), item
        if "error" in item:
            assert item["error"]["code"] in CODES, item
            assert isinstance(item["error"]["message"], str)
            assert "Traceback" not in json.dumps(item)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies, role=st.sampled_from([None, "viewer", "admin"]))
def test_any_body_gets_a_well_formed_answer(view: View, body: bytes, role: Any) -> None:
    check(view.dispatcher.handle(body, HttpSession(role)))


@settings(max_examples=300, deadline=None)
@given(method=st.sampled_from(METHODS), args=params)
def test_any_params_of_any_method(view: View, method: str, args: dict[str, Any]) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": args})
    check(view.dispatcher.handle(body.encode(), HttpSession("viewer")))
