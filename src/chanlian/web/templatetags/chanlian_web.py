"""Small template helpers of the pages: dates as YYYY-MM-DD, status tones, query strings."""

from __future__ import annotations

from datetime import date, datetime

from django import template
from django.utils import timezone

register = template.Library()

TONES = {
    "verified": "ok",
    "active": "ok",
    "open": "ok",
    "pending": "warn",
    "planning": "warn",
    "rejected": "bad",
    "suspended": "bad",
    "revoked": "muted",
    "expired": "muted",
    "accepted": "info",
}


@register.filter
def ymd(value) -> str:
    """A date or datetime as ``YYYY-MM-DD`` (datetimes in the local time zone)."""
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.strftime("%Y-%m-%d")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    return "" if value is None else str(value)


@register.filter
def tone(status) -> str:
    return TONES.get(str(status), "muted")


@register.simple_tag(takes_context=True)
def query(context, **changes) -> str:
    """The current query string with some parameters replaced (``None`` or "" drops one)."""
    request = context["request"]
    params = request.GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.filter
def initials(name) -> str:
    text = str(name or "").strip()
    return text[:1].upper() if text else "?"
