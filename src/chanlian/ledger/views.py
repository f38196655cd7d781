"""The ledger's pages: thin. Each parses its input, calls a scoped selector and renders.

A foreign cluster or account is the 404 page, exactly like a missing one. Bad dates are shown on the
page with a 400 and change nothing (these pages only read).
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from chanlian.core.errors import InvalidInput, NotFound
from chanlian.registry.models import Cluster
from chanlian.registry.principal import principal_for

from . import selectors
from .api import parse_day, statement_range


def _pages(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(str(exc.detail)) from exc

    return login_required(require_GET(wrapper))


@_pages
def accounts(request):
    """The accounts the user may see, with their balances; operators get links to their trial balances."""
    p = principal_for(request.user)
    rows = list(selectors.accounts(request.user)[:500])
    signed = selectors.balances(rows)
    books = Cluster.objects.order_by("id")
    if not p.is_platform_admin:
        books = books.filter(id__in=sorted(p.operated_cluster_ids))
    return render(
        request,
        "ledger/accounts.html",
        {
            "rows": [{"account": a, "balance": signed[a.pk] * a.normal_sign} for a in rows],
            "books": list(books),
        },
    )


@_pages
def trial_balance(request, pk):
    cluster = selectors.cluster_books_for(request.user, pk)
    error, as_of = "", None
    try:
        as_of = parse_day(request.GET.get("as_of"), "as_of", None)
    except InvalidInput as exc:
        error = str(exc.detail)
    tb = selectors.trial_balance(cluster, as_of)
    return render(
        request,
        "ledger/trial_balance.html",
        {"cluster": cluster, "tb": tb, "as_of": as_of, "error": error, "totals": list(tb.totals.values())},
        status=400 if error else 200,
    )


@_pages
def account(request, pk):
    acct = selectors.account_for(request.user, pk)
    p = principal_for(request.user)
    error = ""
    try:
        date_from, date_to = statement_range(request.GET)
    except InvalidInput as exc:
        error = str(exc.detail)
        date_to = timezone.localdate()
        date_from = date_to.replace(day=1)
    st = selectors.statement(acct, date_from, date_to)
    sign = acct.normal_sign
    lines = [{"line": line, "balance": line.balance * sign} for line in st.lines]
    return render(
        request,
        "ledger/account.html",
        {
            "account": acct,
            "st": st,
            "lines": lines,
            "opening": st.opening * sign,
            "closing": st.closing * sign,
            "date_from": date_from,
            "date_to": date_to,
            "error": error,
            "operates": p.operates(acct.cluster_id),
        },
        status=400 if error else 200,
    )
