"""Network cameras' credentials from Kubernetes Secrets (`spec.credentials.secretRef`).

Only with `camctl run --kubernetes --read-secrets`, whose RBAC (manifests/components/
camera-secrets) grants get, list and watch on Secrets. kopf watches Secrets beside the three
kinds, but only those this node's Cameras name are kept, their `username` and `password`
decoded and bounded: a Secret first named by a Camera is read once (GET), and the watch
keeps it current from then on, so a rotated Secret converges the path at the next pass and
a deleted one makes its Camera `CredentialsUnavailable` (its path is kept). Messages name a
Secret and what is wrong with it, never what it holds.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable, Mapping
from typing import Any

from controller.api.credentials import MAX_SECRET_CHARS, Credentials, Resolved, Unavailable, parse
from controller.api.desired import Desired
from controller.api.kinds import Ref
from controller.sources.kubernetes.api import KubeAPI, KubeError, KubeUnreachable

log = logging.getLogger("camctl.kubernetes")

SecretKey = tuple[str, str]  # namespace, name


class Secrets:
    """The Secrets this node's Cameras name, as last read or watched."""

    def __init__(self, api: KubeAPI, notify: Callable[[str], None]) -> None:
        self.api = api
        self._notify = notify
        self.wanted: set[SecretKey] = set()
        self.found: dict[SecretKey, Resolved] = {}

    async def resolve(self, desired: Desired) -> Mapping[Ref, Resolved]:
        """The credentials of every Camera with `spec.credentials.secretRef`."""
        named: dict[Ref, SecretKey] = {}
        for key, camera in desired.cameras.items():
            credentials = camera.spec.credentials
            if credentials is not None and credentials.secret_ref is not None:
                named[key] = (key.namespace, credentials.secret_ref.name)
        self.wanted = set(named.values())
        self.found = {k: v for k, v in self.found.items() if k in self.wanted}
        for secret in sorted(self.wanted - set(self.found)):
            await self._read(secret)
        return {key: self._as_named(secret) for key, secret in named.items()}

    def on_event(self, event: Mapping[str, Any]) -> None:
        """kopf's raw event for a Secret: kept, and the loop woken, if a Camera names it."""
        body = event.get("object") or {}
        meta = body.get("metadata") or {}
        secret = (str(meta.get("namespace") or "default"), str(meta.get("name")))
        if secret not in self.wanted:
            return
        now = _missing() if event.get("type") == "DELETED" else credentials_of(body)
        if self.found.get(secret) != now:
            self.found[secret] = now
            self._notify(f"kubernetes: Secret {secret[0]}/{secret[1]} changed")

    async def _read(self, secret: SecretKey) -> None:
        namespace, name = secret
        try:
            body = await self.api.request("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
        except KubeError as exc:
            if exc.status == 404:
                self.found[secret] = _missing()
            else:  # not kept: asked again next pass
                log.warning("reading Secret %s/%s failed: %s", namespace, name, exc)
            return
        except KubeUnreachable:
            return
        self.found[secret] = credentials_of(body)

    def _as_named(self, secret: SecretKey) -> Resolved:
        found = self.found.get(secret, Unavailable("could not be read (see the log)"))
        if isinstance(found, Credentials):
            return found
        return Unavailable(f"Secret {secret[0]}/{secret[1]}: {found.message}")


def _missing() -> Unavailable:
    return Unavailable("does not exist")


def credentials_of(body: Mapping[str, Any]) -> Resolved:
    """The `username` and `password` of a Secret's data (base64), bounded and checked."""
    data = body.get("data")
    if not isinstance(data, Mapping):
        return Unavailable("has no data")
    found: dict[str, str] = {}
    for name in ("username", "password"):
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > 4 * MAX_SECRET_CHARS:
            return Unavailable(f"its {name} is not a value camctl can use")
        try:
            found[name] = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return Unavailable(f"its {name} is not base64 of UTF-8 text")
    resolved = parse(found)
    if isinstance(resolved, Unavailable) and resolved.message == "no password":
        return Unavailable("has no key password")
    return resolved
