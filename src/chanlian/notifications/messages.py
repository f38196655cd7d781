"""The words of each kind of notification, rendered in the reader's language from its ``data``."""

from __future__ import annotations

from django.utils.translation import gettext as _


def _demand_match(data: dict) -> tuple[str, str]:
    title = _("New demand matching your listing: %(demand)s") % {"demand": data.get("demand_title", "")}
    body = _(
        "%(buyer)s needs %(quantity)s %(unit)s by %(needed_by)s (quotes until %(deadline)s). "
        "Your listing “%(listing)s” scores %(score)s of 100."
    ) % {
        "buyer": data.get("buyer", ""),
        "quantity": data.get("quantity", ""),
        "unit": data.get("unit_symbol") or data.get("unit", ""),
        "needed_by": data.get("needed_by", ""),
        "deadline": data.get("quote_deadline", ""),
        "listing": data.get("listing_title", ""),
        "score": data.get("score", ""),
    }
    others = int(data.get("more_listings") or 0)
    if others:
        body += " " + _("%(n)d more of your listings match too.") % {"n": others}
    return title, body


RENDERERS = {"demand_match": _demand_match}


def render(notification) -> tuple[str, str]:
    fn = RENDERERS.get(notification.kind)
    if fn is None:
        return notification.title, notification.body
    try:
        return fn(notification.data or {})
    except (KeyError, TypeError, ValueError):
        return notification.title, notification.body
