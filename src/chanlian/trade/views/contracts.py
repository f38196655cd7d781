"""The contract pages: the printable contract of an order, its signing, its PDF.

``GET /trade/orders/<id>/contract/``  the version in force (or the latest voided one), its hash, each side's
                                      signature, and — for an administrator of a party whose side has not
                                      signed a confirmed order — the sign form (password + the hash read);
``POST /trade/orders/<id>/contract/sign/``  ``contracts.sign_contract``; refusals are shown on the page;
``GET /trade/orders/<id>/contract.pdf``     the same version as a PDF; 404 with an explanation when the
                                      machine has no CJK font (the page then hides the link).

Only the order's parties see any of it: anyone else (the cluster's operator included, unless the order is
disputed) gets the 404 page, exactly as for a missing order.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from chanlian.core.errors import NotFound
from chanlian.core.permissions import restrict
from chanlian.registry.choices import EnterpriseRole
from chanlian.registry.principal import principal_for
from chanlian.web.errors import FORM_REFUSALS, message, service_view

from ..choices import OrderStatus, Side
from ..models import Contract, Order
from ..services import contracts


def _order(user, pk) -> Order:
    order = (
        restrict(Order, user, "view")
        .select_related("buyer__region", "supplier__region", "cluster__region", "cluster__operator")
        .filter(pk=pk)
        .first()
    )
    if order is None:
        raise NotFound()
    return order


def _contract(order: Order) -> Contract:
    """The version in force, else the latest (voided) one; none at all is a 404."""
    contract = contracts.current_contract(order) or order.contracts.order_by("-version").first()
    if contract is None:
        raise NotFound(
            _("This order has no contract yet: it is issued when the supplier confirms the order.")
        )
    return contract


def _signing_side(user, order: Order, status: dict) -> str | None:
    """The side this user may sign now (an admin of a party whose side has not signed), or None."""
    if order.status != OrderStatus.CONFIRMED or not status["current"]:
        return None
    roles = principal_for(user).roles
    for side, eid in ((Side.BUYER, order.buyer_id), (Side.SUPPLIER, order.supplier_id)):
        if roles.get(eid) == EnterpriseRole.ADMIN and not status[str(side)]["signed"]:
            return str(side)
    return None


def _page(request, order: Order, *, error: str = "", status_code: int = 200):
    contract = _contract(order)
    status = contracts.signature_status(contract)
    versions = list(order.contracts.order_by("-version").values("version", "voided_at", "void_reason"))
    return render(
        request,
        "trade/contract.html",
        {
            "order": order,
            "contract": contract,
            "c": contract.content,
            "status": status,
            "sides": [
                {"key": "buyer", "role": contract.content["parties"]["buyer"]["role"], **status["buyer"]},
                {
                    "key": "supplier",
                    "role": contract.content["parties"]["supplier"]["role"],
                    **status["supplier"],
                },
            ],
            "signing_side": _signing_side(request.user, order, status),
            "pdf_available": contracts.pdf_available(),
            "versions": versions,
            "error": error,
            "nav_section": "orders",
        },
        status=status_code,
    )


@login_required
@require_GET
@service_view
def contract(request, pk: int):
    return _page(request, _order(request.user, pk))


@login_required
@require_POST
@service_view
def contract_sign(request, pk: int):
    order = _order(request.user, pk)
    try:
        contracts.sign_contract(
            request.user,
            order.pk,
            password=request.POST.get("password", ""),
            content_hash=request.POST.get("content_hash", ""),
        )
    except FORM_REFUSALS as exc:
        return _page(request, _order(request.user, pk), error=message(exc), status_code=exc.status)
    order = _order(request.user, pk)
    if order.status == OrderStatus.CONFIRMED:
        messages.success(request, _("You signed the contract. It takes effect when the other side signs."))
    else:
        messages.success(request, _("You signed the contract. Both sides have signed: it is in force."))
    return redirect(reverse("trade:contract", kwargs={"pk": order.pk}))


@login_required
@require_GET
@service_view
def contract_pdf(request, pk: int):
    order = _order(request.user, pk)
    contract = _contract(order)
    if not contracts.pdf_available():
        return render(
            request,
            "trade/contract_pdf_missing.html",
            {"order": order, "contract": contract, "nav_section": "orders"},
            status=404,
        )
    response = HttpResponse(contracts.contract_pdf(contract), content_type="application/pdf")
    number = contract.content.get("number", f"{order.reference}-{contract.version:02d}")
    response["Content-Disposition"] = f'inline; filename="contract-{number}.pdf"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


urlpatterns = [
    path("orders/<int:pk>/contract/", contract, name="contract"),
    path("orders/<int:pk>/contract/sign/", contract_sign, name="contract_sign"),
    path("orders/<int:pk>/contract.pdf", contract_pdf, name="contract_pdf"),
]
