"""Parsing of identifiers that arrive as text (query strings, path segments, form fields)."""

from __future__ import annotations

from .errors import InvalidInput, NotFound

MAX_ID = 2**63 - 1  # a database bigint; anything larger cannot name a row


def parse_id(value, field: str, *, code: str | None = None) -> int:
    """A positive row id, or a 400 naming the field (``code`` defaults to ``invalid_<field>``)."""
    text = str(value).strip()
    if not text.isdigit() or not 0 < int(text) <= MAX_ID:
        raise InvalidInput(
            f"{field} must be a positive id", code=code or f"invalid_{field}", fields={field: text[:40]}
        )
    return int(text)


def path_id(value) -> int:
    """A row id from a URL path: anything that cannot be an id is simply not found."""
    text = str(value)
    if not text.isdigit() or not 0 < int(text) <= MAX_ID:
        raise NotFound()
    return int(text)
