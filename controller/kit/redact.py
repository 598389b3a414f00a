"""Secrets never leave camctl: the user info of every URL is hidden before anything shows it.

One function for every output (plan, status files, the view, Kubernetes statuses and
Events, logs): `rtsp://admin:s3cr3t@cam/x` and `rtsp://admin@cam/x` both become
`rtsp://<redacted>@cam/x`. A password may itself hold `@`: everything up to the last `@`
before the host goes. Secrets some schemes carry in the query (SRT's `passphrase`, a
`password=` or `token=`) are hidden too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# MediaMTX's own mark for a secret it will not show; camctl's mark is the same.
REDACTED = "<redacted>"
# Only ASCII blanks end a URL here: a user or password may hold any other character.
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/?# \t\r\n]*@")
_QUERY = re.compile(
    r"(?i)(?P<key>[?&](?:passphrase|password|passwd|pass|pwd|token|secret)=)[^&\s#]*"
)


def redact(value: Any) -> Any:
    """`value` with the user info of every URL hidden, in strings and in the strings
    inside mappings, lists and tuples (returned as lists); other values as they are."""
    kind = type(value)
    if kind is str:
        if "@" in value:
            value = _USERINFO.sub(rf"\g<scheme>{REDACTED}@", value)
        if "=" in value:
            value = _QUERY.sub(rf"\g<key>{REDACTED}", value)
        return value
    if kind is dict or isinstance(value, Mapping):
        return {k: redact(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [redact(v) for v in value]
    return value
