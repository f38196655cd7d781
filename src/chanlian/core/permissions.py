"""The one permission chokepoint.

Every queryset that the API and the pages show goes through ``restrict(model, user, action)``. Each
model's rule is a *policy* registered by its app; a model without one is visible to nobody. An object
outside the restricted queryset answers 404 — exactly like a missing one — through ``get_or_404``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Model, QuerySet

from .errors import NotFound

Policy = Callable[[QuerySet, object, str], QuerySet]
_policies: dict[type[Model], Policy] = {}


def policy(model: type[Model]):
    def register(fn: Policy) -> Policy:
        _policies[model] = fn
        return fn

    return register


def restrict(model_or_qs, user, action: str = "view") -> QuerySet:
    qs = model_or_qs if isinstance(model_or_qs, QuerySet) else model_or_qs._default_manager.all()
    rule = _policies.get(qs.model)
    if rule is None or user is None or not getattr(user, "is_authenticated", False):
        return qs.none()
    return rule(qs, user, action)


def get_or_404(model_or_qs, user, action: str = "view", **lookup):
    """The object ``user`` may ``action``, or ``NotFound`` — the same answer for missing and foreign."""
    return one_or_404(restrict(model_or_qs, user, action), **lookup)


def one_or_404(restricted: QuerySet, **lookup):
    """The one row of an already restricted queryset (a selector's result) matching ``lookup``."""
    try:
        return restricted.get(**lookup)
    except (ValueError, TypeError, restricted.model.DoesNotExist):
        raise NotFound() from None
