"""What a careless or hostile operator leaves where a document was: the fault campaign's
odd files, shared by the safety tests and tools/fault_campaign.py."""

from __future__ import annotations

import os
from pathlib import Path

ODD = (
    "emptied",
    "only comments",
    "document markers",
    "tilde",
    "dangling link",
    "directory",
    "fifo",
    "device",
    "link out of the tree",
    "not UTF-8",
)
CUT = "cut at byte "  # + a number: the file cut short there


def replace_oddly(path: Path, how: str) -> None:
    """Put `how` (one of ODD, or CUT + N) where the document `path` is."""
    text = path.read_text()
    path.unlink()
    if how == "emptied":
        path.write_text("")
    elif how == "only comments":
        path.write_text("# nothing here yet\n")
    elif how == "document markers":
        path.write_text("---\n---\n")
    elif how == "tilde":
        path.write_text("~\n")
    elif how == "dangling link":
        path.symlink_to(path.parent / "gone.yaml")
    elif how == "directory":
        path.mkdir()
    elif how == "fifo":
        os.mkfifo(path)
    elif how == "device":
        path.symlink_to("/dev/zero")
    elif how == "link out of the tree":
        outside = path.parent.parent / "outside.yaml"
        outside.write_text(text)
        path.symlink_to(outside)
    elif how == "not UTF-8":
        path.write_bytes(text.encode("utf-16"))
    elif how.startswith(CUT):
        path.write_text(text[: int(how.removeprefix(CUT))])
    else:
        raise ValueError(f"no such odd file: {how}")


def cuts(text: str) -> list[str]:
    """A CUT at every document boundary of `text`."""
    return [f"{CUT}{i}" for i in range(len(text)) if text.startswith("---", i)]
