"""What a source hands the loop: the desired state, and every problem met loading it.

Files and Kubernetes objects report problems the same way, as `LoadError` lines (`FILE:LINE:COL:
Kind/name: field: message` for files).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from controller.api.desired import Desired


@dataclass(frozen=True)
class LoadError:
    file: str
    line: int
    col: int
    subject: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}"
        parts = [where, self.subject, self.field, self.message]
        return ": ".join(p for p in parts if p)


@dataclass
class LoadResult:
    desired: Desired
    errors: list[LoadError] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def validation_message(err: Any) -> str:
    """A pydantic error as a document's author should read it."""
    if err["type"] == "extra_forbidden":
        return "unknown field"
    message = str(err["msg"])
    return message.removeprefix("Value error, ")
