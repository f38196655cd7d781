"""The notifications page: my inbox with links to each demand, mark one or all read. Thin."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from chanlian.web.errors import service_view

from . import selectors, services

PAGE_SIZE = 30


@login_required
@require_GET
@service_view
def inbox(request):
    unread = selectors.parse_unread(request.GET.get("unread"))
    page = Paginator(selectors.inbox(request.user, unread=unread), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    items = []
    for n in page.object_list:
        title, body = n.render()
        items.append({"n": n, "title": title, "body": body})
    return render(
        request,
        "notifications/list.html",
        {"page": page, "items": items, "unread": unread, "nav_section": "notifications"},
    )


@login_required
@require_POST
@service_view
def read(request, pk):
    n = services.mark_read(request.user, pk)
    target = request.POST.get("next") or ""
    if request.POST.get("open") and n.url:
        target = n.url
    if not target or not url_has_allowed_host_and_scheme(target, {request.get_host()}):
        target = "notifications:index"
    return redirect(target)


@login_required
@require_POST
@service_view
def read_all(request):
    count = services.mark_all_read(request.user)
    if count:
        messages.success(
            request,
            ngettext("%(n)d notification marked read.", "%(n)d notifications marked read.", count)
            % {"n": count},
        )
    else:
        messages.info(request, _("Nothing unread."))
    return redirect("notifications:index")
