"""Service errors: every refusal carries a machine code, a human message and an HTTP status.

Services raise these; the API's exception handler and the web views turn them into responses. Raising
inside ``transaction.atomic`` rolls the write back, so a refused request changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _


class ServiceError(Exception):
    status = 400
    code = "invalid"
    default_detail = _("The request is invalid.")

    def __init__(self, detail: Any = None, *, code: str | None = None, fields: dict | None = None):
        self.detail = detail if detail is not None else self.default_detail
        if code:
            self.code = code
        self.fields = fields or {}
        super().__init__(str(self.detail))

    def as_dict(self) -> dict:
        body: dict[str, Any] = {"code": self.code, "detail": str(self.detail)}
        if self.fields:
            body["fields"] = {
                k: [str(m) for m in (v if isinstance(v, list | tuple) else [v])]
                for k, v in self.fields.items()
            }
        return body


class InvalidInput(ServiceError):
    status = 400
    code = "invalid"


class NotFound(ServiceError):
    """Missing, or not yours: the two are indistinguishable on purpose."""

    status = 404
    code = "not_found"
    default_detail = _("Not found.")


class Forbidden(ServiceError):
    status = 403
    code = "permission_denied"
    default_detail = _("You do not have permission to do this.")


class Conflict(ServiceError):
    status = 409
    code = "conflict"
    default_detail = _("The request conflicts with the current state.")


class TooManyAttempts(ServiceError):
    """Too many wrong passwords for a user or username (``core.reauth``); ``fields["retry_after"]`` gives
    the seconds to wait."""

    status = 429
    code = "too_many_attempts"
    default_detail = _("Too many wrong passwords. Try again later.")
