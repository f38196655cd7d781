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
SqlPolicy = Callable[[object, str], "tuple[str, list] | None"]
_sql_policies: dict[type[Model], SqlPolicy] = {}


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


def sql_policy(model: type[Model]):
    """Register the same rule as ``model``'s policy, as a SQL predicate over ``model``'s table (by its
    table name), for the few hot writes that lock one row in plain SQL (``restrict_sql``). The rule
    returns ``None`` for an action it does not cover; the caller then uses ``restrict``. Each such rule
    is tested to select exactly the rows of ``restrict`` for every persona and action it covers."""

    def register(fn: SqlPolicy) -> SqlPolicy:
        _sql_policies[model] = fn
        return fn

    return register


def restrict_sql(model: type[Model], user, action: str) -> tuple[str, list] | None:
    """``(predicate, params)``: the rows of ``model`` that ``user`` may ``action``, as SQL — ``restrict``
    without building a queryset — or ``None`` where no SQL rule covers it (use ``restrict``). Nobody
    signed in, or a model without a rule of either kind: a predicate that matches nothing."""
    if user is None or not getattr(user, "is_authenticated", False) or model not in _policies:
        return "1 = 0", []
    rule = _sql_policies.get(model)
    return rule(user, action) if rule is not None else None


def get_or_404(model_or_qs, user, action: str = "view", **lookup):
    """The object ``user`` may ``action``, or ``NotFound`` — the same answer for missing and foreign."""
    return one_or_404(restrict(model_or_qs, user, action), **lookup)


def one_or_404(restricted: QuerySet, **lookup):
    """The one row of an already restricted queryset (a selector's result) matching ``lookup``."""
    try:
        return restricted.get(**lookup)
    except (ValueError, TypeError, restricted.model.DoesNotExist):
        raise NotFound() from None
