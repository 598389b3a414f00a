"""JSON-RPC error codes: the standard ones, camctl's, and the old camera service's."""

from __future__ import annotations

from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
# Server errors (-32000 … -32099); -32001 … -32003 as the old camera service used them.
NEEDS_WEBSOCKET = -32000
UNAUTHORIZED = -32001
LIMIT_EXCEEDED = -32002
READ_ONLY = -32003
NOT_FOUND = -32004
# The old camera service's application errors.
CAMERA_NOT_FOUND = -1000
FILE_NOT_FOUND = -1005

MESSAGES = {
    PARSE_ERROR: "Parse error",
    INVALID_REQUEST: "Invalid Request",
    METHOD_NOT_FOUND: "Method not found",
    INVALID_PARAMS: "Invalid params",
    INTERNAL_ERROR: "Internal error",
    UNAUTHORIZED: "Authentication required",
}


class RPCError(Exception):
    """An error answer: code, a message for people, optional data for programs."""

    def __init__(self, code: int, message: str | None = None, data: Any = None) -> None:
        super().__init__(message or MESSAGES.get(code, "Server error"))
        self.code = code
        self.message = message or MESSAGES.get(code, "Server error")
        self.data = data

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class ViewError(Exception):
    """The view cannot start as configured (kept here, light, for the CLI to catch)."""
