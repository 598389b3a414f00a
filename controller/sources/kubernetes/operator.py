"""kopf, as a watcher only: its settings, its login, the handlers it calls, and its run.

An index handler and an event handler per kind, and no change handlers, so kopf never
writes to the objects; controllers on different nodes never write the same object either,
so kopf runs standalone. It posts no Events of its own, and leaves SIGINT and SIGTERM to
the controller.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import kopf

from controller.api.kinds import GROUP, KINDS, PLURALS, VERSION

log = logging.getLogger("camctl.kubernetes")

Login = Callable[..., "kopf.ConnectionInfo | None"]
Handler = Callable[[str, Mapping[str, Any]], None]  # (kind, body or raw event)
# Where kopf's login functions look: a pod's service account, then kubeconfig files.
SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"
KUBECONFIG_DEFAULT = "~/.kube/config"


def default_login(**kwargs: Any) -> kopf.ConnectionInfo:
    """In a pod, its service account; elsewhere, the current kubeconfig context."""
    info = kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)
    if info is None:
        raise kopf.LoginError(f"no Kubernetes credentials: {where_credentials_are_looked_for()}")
    return info


def where_credentials_are_looked_for(env: Mapping[str, str] = os.environ) -> str:
    """Each place default_login looks, and what is there."""
    in_pod = "KUBERNETES_SERVICE_HOST" in env
    token = "present" if os.path.exists(SERVICE_ACCOUNT_TOKEN) else "absent"
    kubeconfig = env.get("KUBECONFIG") or "unset"
    home_config = os.path.expanduser(KUBECONFIG_DEFAULT)
    exists = "present" if os.path.exists(home_config) else "absent"
    return (
        f"looked for a pod's service account (KUBERNETES_SERVICE_HOST "
        f"{'set' if in_pod else 'unset'}, {SERVICE_ACCOUNT_TOKEN} {token}), "
        f"KUBECONFIG ({kubeconfig}) and {KUBECONFIG_DEFAULT} ({home_config} {exists})"
    )


def check_login(login: Login = default_login) -> None:
    """Log in once before starting, so a machine without a cluster fails at once, in one
    line, instead of kopf retrying every minute and each list every few seconds.
    kopf.LoginError with the reason, whatever reading the credentials raised."""
    try:
        login_now(login, operator_settings())
    except kopf.LoginError:
        raise
    except Exception as exc:  # kopf's kubeconfig reader passes on YAML, key and file errors
        reason = f"{type(exc).__name__}: {exc}"
        raise kopf.LoginError(f"cannot read the Kubernetes credentials: {reason}") from exc


def login_now(login: Login, settings: kopf.OperatorSettings) -> kopf.ConnectionInfo:
    """Log in outside kopf, as kopf would: for camctl's own requests."""
    info = login(settings=settings, logger=log)
    if info is None:
        raise kopf.LoginError("the login handler returned no credentials")
    return info


def operator_settings() -> kopf.OperatorSettings:
    """kopf as a watcher only: no CRD or namespace scanning, no Events of its own, no
    SIGKILL of the whole process when it is cancelled."""
    settings = kopf.OperatorSettings()
    settings.scanning.disabled = True
    settings.posting.enabled = False
    settings.process.ultimate_exiting_timeout = None
    return settings


def registry(
    login: Login,
    on_body: Handler,
    on_event: Handler,
    on_secret: Callable[[Mapping[str, Any]], None] | None = None,
) -> kopf.OperatorRegistry:
    """The handlers for every kind: `on_body` (an index) runs for every body, even during
    the initial listing; `on_event` only once kopf has listed every kind. With `on_secret`,
    Secrets are watched too (network cameras' credentials), and each raw event goes there."""
    handlers = kopf.OperatorRegistry()
    if on_secret is not None:

        async def secret(event: kopf.RawEvent, **_: Any) -> None:
            on_secret(event)

        kopf.on.event("v1", "secrets", id="secrets-credentials", registry=handlers)(secret)

    async def login_handler(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return login(**kwargs)

    kopf.on.login(registry=handlers)(login_handler)
    for kind in KINDS:
        plural = PLURALS[kind]

        async def index(body: kopf.Body, kind: str = kind, **_: Any) -> None:
            on_body(kind, body)

        async def event(event: kopf.RawEvent, kind: str = kind, **_: Any) -> None:
            on_event(kind, event)

        kopf.index(GROUP, VERSION, plural, id=f"{plural}-store", registry=handlers)(index)
        kopf.on.event(GROUP, VERSION, plural, id=f"{plural}-wake", registry=handlers)(event)
    return handlers


async def run(
    handlers: kopf.OperatorRegistry,
    settings: kopf.OperatorSettings,
    namespace: str | None,
    stop: Callable[[], None] | None,
    beside: Callable[[], Coroutine[Any, Any, None]],
) -> None:
    """Run kopf until it stops or is cancelled, and `beside` along with it."""
    _quiet_loggers()
    existing = asyncio.all_tasks()
    tasks = await kopf.spawn_tasks(
        registry=handlers,
        settings=settings,
        standalone=True,
        clusterwide=namespace is None,
        namespaces=[namespace] if namespace else (),
    )
    _take_back_signals(stop)
    companion = asyncio.create_task(beside())
    try:
        await kopf.run_tasks(tasks, ignored=existing)
    finally:
        companion.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await companion


def _quiet_loggers() -> None:
    for name in ("kopf", "aiohttp.access"):
        if logging.getLogger(name).level == logging.NOTSET:
            logging.getLogger(name).setLevel(logging.WARNING)  # per-event INFO lines


def _take_back_signals(stop: Callable[[], None] | None) -> None:
    """kopf takes SIGINT and SIGTERM for itself; the controller stops on them instead."""
    if threading.current_thread() is not threading.main_thread():
        return
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        if stop is not None:
            loop.add_signal_handler(sig, stop)
        else:
            loop.remove_signal_handler(sig)
