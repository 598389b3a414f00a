"""A network camera's credentials, as the edges read them and the planner receives them.

Credentials are never in a document: an observer reads them (a file, or a Kubernetes
Secret) before each pass and hands the planner, per Camera, either `Credentials` or why they
are `Unavailable`. Neither ever shows the password: not in its repr, not in a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from controller.api.desired import Desired
from controller.api.kinds import Ref

MAX_SECRET_CHARS = 1024  # a user name or a password; camera firmwares take far fewer


@dataclass(frozen=True, slots=True)
class Credentials:
    """A user name and a password; the password is left out of the repr."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Unavailable:
    """Why a Camera's credentials cannot be had: the message of `CredentialsUnavailable`.
    Only where they were looked for and what was wrong: never what was read."""

    message: str


Resolved = Credentials | Unavailable


class CredentialSource(Protocol):
    """What reads credentials for the loop: files, or Kubernetes Secrets (and files)."""

    async def resolve(self, desired: Desired) -> Mapping[Ref, Resolved]:
        """The credentials of every Camera of `desired` that names some."""
        ...


def parse(found: object) -> Resolved:
    """`{username, password}` as a file or a Secret holds them, or what is wrong with it."""
    if not isinstance(found, Mapping):
        return Unavailable("must hold a mapping with username and password")
    unknown = sorted(str(k) for k in found if k not in ("username", "password"))
    if unknown:
        return Unavailable(f"unknown keys: {', '.join(unknown)[:100]} (only username, password)")
    username, password = found.get("username", ""), found.get("password")
    for name, value in (("username", username), ("password", password)):
        if not isinstance(value, str):
            missing = value is None and name == "password"
            return Unavailable(f"no {name}" if missing else f"{name} must be text (quote it)")
        if len(value) > MAX_SECRET_CHARS:
            return Unavailable(f"{name} longer than {MAX_SECRET_CHARS} characters")
    assert isinstance(username, str) and isinstance(password, str)
    if not password:
        return Unavailable("the password is empty")
    return Credentials(username, password)
