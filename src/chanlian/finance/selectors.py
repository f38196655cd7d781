"""Reads of the finance app: the four-flow check (四流合一) and the permission-scoped querysets.

``four_flow(order, receivable)`` recomputes the check from the platform's own records every time it is
asked — the contract and its signatures, the shipments, the acceptance, the invoices and the ledger —
so that a record changed after registration (an invoice rejected, a contract tampered with) shows at
once, and a confirmation or a financing always decides on the records as they are now.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from chanlian.core.permissions import one_or_404, restrict
from chanlian.ledger.models import JournalLine
from chanlian.trade.choices import InvoiceStatus, OrderStatus, PaymentPurpose, PaymentTerms
from chanlian.trade.models import Invoice, Order, Payment

from .choices import TransferStatus, VoucherStatus
from .models import Receivable, Voucher, VoucherEvent, VoucherTransfer

ZERO = Decimal("0.00")

# The checks, in the order the page lists them, with their names in the reader's language.
CHECKS = {
    "contract": gettext_lazy("Signed contract"),
    "shipments": gettext_lazy("Shipments with waybills"),
    "acceptance": gettext_lazy("Buyer's acceptance"),
    "invoices": gettext_lazy("Invoices confirmed by the buyer"),
    "parties": gettext_lazy("Parties agree"),
    "amounts": gettext_lazy("Amounts agree"),
    "dates": gettext_lazy("Dates agree"),
    "ledger": gettext_lazy("Receivable booked on the ledger"),
}


@dataclass(frozen=True)
class Check:
    key: str
    ok: bool
    reason: str

    @property
    def label(self) -> str:
        return str(CHECKS[self.key])


@dataclass(frozen=True)
class FourFlow:
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def as_list(self) -> list[dict]:
        return [{"key": c.key, "label": c.label, "ok": c.ok, "reason": c.reason} for c in self.checks]


def _local(moment) -> dt.date | None:
    return timezone.localtime(moment).date() if moment is not None else None


def outstanding(order: Order) -> Decimal:
    """What the buyer still owes on an accepted order on terms: the accepted amount less its terms
    payment (one per order, a unique constraint)."""
    if order.accepted_amount is None:
        return ZERO
    paid = Payment.objects.filter(order=order, purpose=PaymentPurpose.TERMS).aggregate(s=Sum("amount"))["s"]
    return max(order.accepted_amount - (paid or ZERO), ZERO)


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def four_flow(order: Order, receivable: Receivable) -> FourFlow:
    """The named checks of contract, goods, acceptance, invoices, parties, amounts, dates and money.

    Each check passes or says why not; ``receivable`` may be unsaved (the terms an order would yield)."""
    from chanlian.trade.services.contracts import current_contract, signature_status

    order = Order.objects.select_related("buyer", "supplier").get(pk=order.pk)
    checks: list[Check] = []

    # -- contract
    contract = current_contract(order)
    contract_day: dt.date | None = None
    if contract is None:
        checks.append(Check("contract", False, _("The order has no contract in force.")))
    else:
        st = signature_status(contract)
        try:
            contract_day = dt.date.fromisoformat(str(contract.content.get("date", "")))
        except ValueError:
            contract_day = None
        if not st["complete"]:
            checks.append(Check("contract", False, _("The contract is not signed by both parties.")))
        elif not st["intact"]:
            checks.append(
                Check("contract", False, _("The stored contract no longer matches its hash: it was altered."))
            )
        elif not st["matches_order"]:
            checks.append(Check("contract", False, _("The order no longer has the terms that were signed.")))
        elif not st["valid"]:
            checks.append(Check("contract", False, _("A signature does not cover the contract in force.")))
        elif contract_day is None:
            checks.append(Check("contract", False, _("The contract has no valid date.")))
        else:
            checks.append(
                Check(
                    "contract",
                    True,
                    _("Version %(v)s, signed by both parties; hash %(h)s… verified.")
                    % {"v": contract.version, "h": contract.content_hash[:12]},
                )
            )

    # -- shipments
    shipments = list(order.shipments.all())
    accepted_day = _local(order.accepted_at)
    shipped = sum((s.quantity for s in shipments), Decimal("0"))
    if not shipments:
        checks.append(Check("shipments", False, _("Nothing was shipped.")))
    elif any(not s.waybill.strip() or not s.carrier.strip() for s in shipments):
        checks.append(Check("shipments", False, _("A shipment has no carrier or waybill number.")))
    elif order.accepted_quantity is not None and shipped < order.accepted_quantity:
        checks.append(Check("shipments", False, _("Less was shipped than was accepted.")))
    else:
        checks.append(
            Check(
                "shipments",
                True,
                _("%(n)s shipment(s): %(w)s.")
                % {"n": len(shipments), "w": ", ".join(s.waybill for s in shipments)},
            )
        )

    # -- acceptance
    if order.status != OrderStatus.ACCEPTED or order.accepted_amount is None or accepted_day is None:
        checks.append(
            Check(
                "acceptance",
                False,
                _("The order is %(s)s, not accepted and awaiting payment.")
                % {"s": OrderStatus(order.status).label},
            )
        )
    else:
        checks.append(
            Check(
                "acceptance",
                True,
                _("Accepted on %(d)s for %(a)s.")
                % {"d": accepted_day.isoformat(), "a": _money(order.accepted_amount)},
            )
        )

    # -- invoices
    invoices = [i for i in order.invoices.all() if i.status != InvoiceStatus.REJECTED]
    confirmed = [i for i in invoices if i.status == InvoiceStatus.CONFIRMED]
    confirmed_total = sum((i.total for i in confirmed), ZERO)
    if not invoices:
        checks.append(Check("invoices", False, _("No invoice was recorded for the order.")))
    elif len(confirmed) < len(invoices):
        checks.append(Check("invoices", False, _("An invoice awaits the buyer's confirmation.")))
    else:
        checks.append(
            Check(
                "invoices",
                True,
                _("%(n)s invoice(s) confirmed, %(t)s in total.")
                % {"n": len(confirmed), "t": _money(confirmed_total)},
            )
        )

    # -- parties
    problems = []
    if receivable.debtor_id != order.buyer_id:
        problems.append(_("the debtor is not the order's buyer"))
    if receivable.creditor_id != order.supplier_id:
        problems.append(_("the creditor is not the order's supplier"))
    if any(i.buyer_id != order.buyer_id or i.supplier_id != order.supplier_id for i in invoices):
        problems.append(_("an invoice names other parties than the order"))
    terms = (contract.content.get("terms") or {}) if contract is not None else {}
    if contract is not None and (
        terms.get("buyer_uscc") != order.buyer.uscc or terms.get("supplier_uscc") != order.supplier.uscc
    ):
        problems.append(_("the contract names other parties than the order"))
    checks.append(_verdict("parties", problems, _("Debtor = buyer, creditor = supplier, on every document.")))

    # -- amounts
    problems = []
    accepted = order.accepted_amount
    if accepted is None:
        problems.append(_("there is no accepted amount"))
    else:
        if confirmed_total > accepted:
            problems.append(
                _("the invoices (%(i)s) exceed the accepted amount (%(a)s)")
                % {"i": _money(confirmed_total), "a": _money(accepted)}
            )
        if receivable.amount > accepted:
            problems.append(_("the receivable exceeds the accepted amount"))
        if confirmed_total < receivable.amount:
            problems.append(
                _("the confirmed invoices (%(i)s) do not cover the receivable (%(r)s)")
                % {"i": _money(confirmed_total), "r": _money(receivable.amount)}
            )
        if receivable.amount != outstanding(order):
            problems.append(_("the receivable is not what the buyer still owes"))
        if receivable.currency != order.currency or any(i.currency != order.currency for i in invoices):
            problems.append(_("the currencies differ"))
    checks.append(
        _verdict(
            "amounts",
            problems,
            _("Receivable %(r)s ≤ invoices %(i)s ≤ accepted amount %(a)s.")
            % {"r": _money(receivable.amount), "i": _money(confirmed_total), "a": _money(accepted or ZERO)},
        )
    )

    # -- dates
    problems = []
    if contract_day is not None:
        if any(i.issue_date < contract_day for i in invoices):
            problems.append(_("an invoice is dated before the contract"))
        if any(s.shipped_on < contract_day for s in shipments):
            problems.append(_("a shipment left before the contract was made"))
        if accepted_day is not None and accepted_day < contract_day:
            problems.append(_("the acceptance is dated before the contract"))
    if accepted_day is not None:
        if any(s.shipped_on > accepted_day for s in shipments):
            problems.append(_("a shipment left after the acceptance"))
        if receivable.due_date < accepted_day:
            problems.append(_("the due date is before the acceptance"))
    if any(i.issue_date > timezone.localdate() for i in invoices):
        problems.append(_("an invoice is dated in the future"))
    if order.due_date is None or receivable.due_date != order.due_date:
        problems.append(_("the due date is not the order's"))
    checks.append(
        _verdict(
            "dates",
            problems,
            _("Contract %(c)s ≤ shipments ≤ acceptance %(a)s; invoices after the contract; due %(d)s.")
            % {
                "c": contract_day.isoformat() if contract_day else "—",
                "a": accepted_day.isoformat() if accepted_day else "—",
                "d": receivable.due_date.isoformat() if receivable.due_date else "—",
            },
        )
    )

    # -- ledger (the money flow): the terms.accept entry booked the supplier's receivable
    booked = (
        JournalLine.objects.filter(
            entry__reference=f"order:{order.pk}",
            entry__kind="terms.accept",
            entry__reversed_by__isnull=True,
            account__code="receivable",
            account__enterprise_id=order.supplier_id,
        ).aggregate(s=Sum("amount"))["s"]
        or ZERO
    )
    if accepted is None or -booked != accepted:
        checks.append(
            Check(
                "ledger",
                False,
                _(
                    "The ledger holds %(b)s as the supplier's receivable for this order, "
                    "not the accepted amount."
                )
                % {"b": _money(-booked)},
            )
        )
    else:
        checks.append(
            Check(
                "ledger",
                True,
                _("terms.accept: %(b)s on the supplier's receivable.") % {"b": _money(-booked)},
            )
        )
    return FourFlow(checks)


def _verdict(key: str, problems: list[str], passed: str) -> Check:
    if problems:
        # one sentence in the reader's language: "A; b." / "甲；乙。" (only the first letter raised)
        text = pgettext("list of problems", "; ").join(str(p) for p in problems)
        return Check(key, False, text[:1].upper() + text[1:] + pgettext("end of a sentence", "."))
    return Check(key, True, str(passed))


# ----------------------------------------------------------------------------------------- scoped reads


def receivables(user, *, role: str | None = None) -> QuerySet:
    """The receivables the user may see; ``role`` ``creditor`` or ``debtor`` narrows to one side."""
    from chanlian.registry.principal import principal_for

    qs = restrict(Receivable, user).select_related("order", "creditor", "debtor", "cluster")
    if role in ("creditor", "debtor"):
        ids = list(principal_for(user).enterprise_ids)
        qs = qs.filter(**{f"{role}_id__in": ids})
    return qs.order_by("-id")


def receivable_for_user(user, receivable_id) -> Receivable:
    from chanlian.core.params import path_id

    return one_or_404(receivables(user), pk=path_id(receivable_id))


def vouchers(user, *, role: str | None = None, status: str | None = None) -> QuerySet:
    """The vouchers the user may see. ``role``: ``holder`` (held now), ``issuer``, ``offered`` (a
    transfer awaits the user's enterprise)."""
    from chanlian.registry.principal import principal_for

    qs = restrict(Voucher, user).select_related("issuer", "holder", "parent", "receivable__order")
    ids = list(principal_for(user).enterprise_ids)
    if role == "holder":
        qs = qs.filter(holder_id__in=ids).exclude(status=VoucherStatus.SPLIT)
    elif role == "issuer":
        qs = qs.filter(issuer_id__in=ids)
    elif role == "offered":
        qs = qs.filter(
            pk__in=VoucherTransfer.objects.filter(
                status=TransferStatus.PENDING, to_enterprise_id__in=ids
            ).values("voucher_id")
        )
    if status in VoucherStatus.values:
        qs = qs.filter(status=status)
    return qs.order_by("-id")


def voucher_for(user, voucher_id) -> Voucher:
    from chanlian.core.params import path_id

    return one_or_404(vouchers(user), pk=path_id(voucher_id))


def pending_transfer(voucher: Voucher) -> VoucherTransfer | None:
    return (
        VoucherTransfer.objects.filter(voucher=voucher, status=TransferStatus.PENDING)
        .select_related("from_enterprise", "to_enterprise")
        .first()
    )


def lineage(voucher: Voucher) -> list[Voucher]:
    """The voucher and its ancestors up to the one the debtor issued, oldest first."""
    chain = [voucher]
    while chain[-1].parent_id is not None:
        chain.append(Voucher.objects.select_related("issuer", "holder").get(pk=chain[-1].parent_id))
    return list(reversed(chain))


def custody(user, voucher_id) -> list[VoucherEvent]:
    """The chain of custody of a voucher the user may see (404 otherwise): every issue, split and
    transfer event of it and of the vouchers it was split from, oldest first."""
    voucher = voucher_for(user, voucher_id)
    ids = [v.pk for v in lineage(voucher)]
    # An ancestor's events after the split that made this part concern its other parts: not shown.
    events = (
        VoucherEvent.objects.filter(voucher_id__in=ids)
        .select_related("voucher", "actor", "from_enterprise", "to_enterprise")
        .order_by("created_at", "id")
    )
    return list(events)


def eligible_orders(user) -> QuerySet:
    """Orders on payment terms the user's enterprise supplied that are accepted, invoiced and have no
    receivable yet: what it may register."""
    return (
        restrict(Order, user, "supply")
        .filter(status=OrderStatus.ACCEPTED, receivable__isnull=True)
        .exclude(payment_terms=PaymentTerms.ESCROW)
        .filter(pk__in=Invoice.objects.filter(~Q(status=InvoiceStatus.REJECTED)).values("order_id"))
        .select_related("buyer")
        .order_by("-id")
    )


def receivable_actions(user, receivable: Receivable) -> list[str]:
    """``confirm`` when the user is an admin of the debtor and the receivable awaits confirmation (the
    four-flow check decides at the time of confirming)."""
    from chanlian.registry.principal import principal_for

    p = principal_for(user)
    if receivable.status == "registered" and p.roles.get(receivable.debtor_id) == "admin":
        return ["confirm"]
    return []


def voucher_actions(user, voucher: Voucher) -> list[str]:
    """What the user may do with the voucher now: ``split``, ``transfer`` (its holder, a live voucher
    not yet matured), ``withdraw`` (its holder, while its offer is pending), ``accept``, ``decline`` (the
    enterprise a pending transfer is offered to)."""
    from chanlian.registry.principal import principal_for

    p = principal_for(user)
    acting = {eid for eid, role in p.roles.items() if role in ("admin", "staff")}
    actions = []
    live = voucher.maturity_date >= timezone.localdate()
    if voucher.status == VoucherStatus.HELD and voucher.holder_id in acting and live:
        actions += ["split", "transfer"]
    if voucher.status == VoucherStatus.TRANSFERRING:
        pending = pending_transfer(voucher)
        if pending is not None and pending.to_enterprise_id in acting:
            actions += ["accept", "decline"]
        if voucher.holder_id in acting:
            actions.append("withdraw")
    return actions


def transfer_targets(user, voucher: Voucher) -> QuerySet:
    """The enterprises the voucher's holder may pass it to: its own suppliers on the platform."""
    from chanlian.registry.models import Enterprise

    suppliers = (
        Order.objects.filter(buyer_id=voucher.holder_id)
        .exclude(status__in=[OrderStatus.CREATED, OrderStatus.CANCELLED])
        .values("supplier_id")
    )
    return (
        Enterprise.objects.filter(pk__in=suppliers, kind="company")
        .exclude(pk=voucher.holder_id)
        .order_by("name")
    )
