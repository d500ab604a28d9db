"""Domain errors: a stable code for the API, a Chinese message for people, and per-field
problems so a form can show every one of them next to its field at once (一次性告知)."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400

    def __init__(
        self,
        code: str,
        message: str,
        fields: dict[str, str] | None = None,
        status_code: int | None = None,
    ) -> None:
        if status_code is not None:
            self.status_code = status_code
        self.code = code
        self.message = message
        self.fields = fields or {}
        super().__init__(f"{code}: {message}")

    def as_json(self) -> dict:
        """The API's one error body (ltc.web.openapi declares it): `fields` always present."""
        return {"error": {"code": self.code, "message": self.message, "fields": self.fields}}


class InvalidInput(DomainError):
    status_code = 422


class NotFound(DomainError):
    status_code = 404


class Forbidden(DomainError):
    status_code = 403


class Conflict(DomainError):
    status_code = 409


class TooManyAttempts(DomainError):
    status_code = 429
