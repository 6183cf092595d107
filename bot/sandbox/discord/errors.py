"""Errors the stand-in answers with, carrying Discord's HTTP status, JSON error code and message."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """Raised anywhere while handling a REST call; rendered as Discord's JSON error body."""

    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            data["errors"] = self.errors
        return data


_UNKNOWN_CODES = {
    "Account": 10001,
    "Application": 10002,
    "Channel": 10003,
    "Guild": 10004,
    "Member": 10007,
    "Message": 10008,
    "Role": 10011,
    "User": 10013,
    "Emoji": 10014,
    "Webhook": 10015,
    "Interaction": 10062,
    "Application Command": 10063,
}


def unknown(kind: str) -> ApiError:
    """A 404 such as ``Unknown Channel`` (code 10003)."""
    return ApiError(404, _UNKNOWN_CODES.get(kind, 0), f"Unknown {kind}")


def missing_permissions() -> ApiError:
    return ApiError(403, 50013, "Missing Permissions")


def missing_access() -> ApiError:
    return ApiError(403, 50001, "Missing Access")


def invalid_form(message: str = "Invalid Form Body", errors: dict[str, Any] | None = None) -> ApiError:
    return ApiError(400, 50035, message, errors)


def unauthorized() -> ApiError:
    return ApiError(401, 0, "401: Unauthorized")
