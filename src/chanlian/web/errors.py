"""Service refusals in the pages.

``service_view`` wraps a view: a ``NotFound`` (missing, or not yours) becomes the 404 page, and any
other refusal the view did not handle itself is shown in the site's look with its status. Form views
catch ``InvalidInput``/``Conflict``/``Forbidden`` themselves and call ``attach`` to put the message next
to the field(s) the service named and at the top of the form.
"""

from __future__ import annotations

from functools import wraps

from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from chanlian.core.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceError, TooManyAttempts

# The refusals a form view shows in place, next to the fields (NotFound is a 404 instead).
FORM_REFUSALS = (InvalidInput, Conflict, Forbidden, TooManyAttempts)

# Selectors word a few refusals for API clients; the pages say them in the reader's language.
FRIENDLY = {
    "unknown_region": _("Enter a 6-digit region code (e.g. 350524), or pick a region from the list."),
    "invalid_status": _("Choose a verification status from the list."),
    "invalid_cluster": _("Choose a cluster from the list."),
    "invalid_kind": _("Choose an enterprise kind from the list."),
}

# Refusals whose ``fields`` is empty but which clearly concern one field.
CODE_FIELDS = {
    "unknown_region": "region",
    "not_a_county": "region",
    "invalid_uscc": "uscc",
    "duplicate_uscc": "uscc",
    "uscc_immutable": "uscc",
    "unknown_stage": "chain_roles",
    "unknown_cluster": "cluster",
    "duplicate_username": "username",
    "invalid_username": "username",
    "weak_password": "password1",
    "invalid_email": "contact_email",
    "invalid_url": "website",
    "invalid_role": "role",
}


def message(exc: ServiceError, *, friendly: bool = False) -> str:
    """The human message of a refusal; ``friendly`` prefers the pages' wording of selector errors."""
    if friendly and exc.code in FRIENDLY:
        return str(FRIENDLY[exc.code])
    return str(exc.detail)


def attach(form, exc: ServiceError, *, aliases: dict | None = None, friendly: bool = False) -> str:
    """Put the refusal's message on each named field the form has; return it for the top of the form."""
    text = message(exc, friendly=friendly)
    aliases = aliases or {}
    names = [aliases.get(k, k) for k in (exc.fields or {})]
    if exc.code in CODE_FIELDS:
        names.append(aliases.get(CODE_FIELDS[exc.code], CODE_FIELDS[exc.code]))
    placed = set()
    for name in names:
        if name in form.fields and name not in placed:
            form.add_error(name, text)
            placed.add(name)
    return text


def service_view(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(str(exc.detail)) from exc
        except ServiceError as exc:
            return render(
                request,
                "web/error.html",
                {"exc": exc, "message": message(exc, friendly=True)},
                status=exc.status,
            )

    return wrapper
