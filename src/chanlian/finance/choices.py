"""Statuses of the finance objects and their transition tables (docs/finance.md draws them)."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ReceivableStatus(models.TextChoices):
    REGISTERED = "registered", _("Registered, awaiting the debtor's confirmation")
    CONFIRMED = "confirmed", _("Confirmed by the debtor (voucher issued)")


class VoucherStatus(models.TextChoices):
    HELD = "held", _("Held")
    TRANSFERRING = "transferring", _("Transfer awaiting acceptance")
    SPLIT = "split", _("Split into parts")
    PAID = "paid", _("Paid at maturity")


# A voucher's moves. ``split`` is final: the parts carry on, each a voucher of its own; ``paid`` is final
# too (the issuer paid at maturity: ``lending.pay_voucher``).
VOUCHER_TRANSITIONS: dict[str, frozenset[str]] = {
    VoucherStatus.HELD: frozenset({VoucherStatus.TRANSFERRING, VoucherStatus.SPLIT, VoucherStatus.PAID}),
    VoucherStatus.TRANSFERRING: frozenset({VoucherStatus.HELD, VoucherStatus.PAID}),
    VoucherStatus.SPLIT: frozenset(),
    VoucherStatus.PAID: frozenset(),
}


class VoucherEventKind(models.TextChoices):
    ISSUED = "issued", _("Issued by the debtor")
    SPLIT = "split", _("Split into parts")
    SPLIT_FROM = "split_from", _("Created by a split")
    TRANSFER_OFFERED = "transfer_offered", _("Transfer offered")
    TRANSFER_ACCEPTED = "transfer_accepted", _("Transfer accepted")
    TRANSFER_DECLINED = "transfer_declined", _("Transfer declined")
    TRANSFER_WITHDRAWN = "transfer_withdrawn", _("Transfer withdrawn")
    DISCOUNTED = "discounted", _("Discounted with a lender")
    PAID = "paid", _("Paid by the issuer")


class TransferStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting the receiver")
    ACCEPTED = "accepted", pgettext_lazy("voucher transfer", "Accepted")
    DECLINED = "declined", _("Declined")
    WITHDRAWN = "withdrawn", _("Withdrawn by the holder")


class AssetKind(models.TextChoices):
    VOUCHER = "voucher", _("Voucher part")
    RECEIVABLE = "receivable", _("Receivable")
    INVOICE = "invoice", _("Invoice")


# ------------------------------------------------------------------------------------------ lending


class ProductKind(models.TextChoices):
    DISCOUNT = "discount", _("Voucher discounting")
    RECEIVABLE_LOAN = "receivable_loan", _("Receivable financing")


class DayCount(models.TextChoices):
    """How a year is counted for discount interest: face × rate × days / 360 or / 365."""

    ACT_360 = "act_360", _("Actual/360")
    ACT_365 = "act_365", _("Actual/365")


DAY_COUNT_BASIS = {DayCount.ACT_360: 360, DayCount.ACT_365: 365}


class CreditLineStatus(models.TextChoices):
    ACTIVE = "active", pgettext_lazy("credit line", "Active")
    SUSPENDED = "suspended", pgettext_lazy("credit line", "Suspended")
    CLOSED = "closed", pgettext_lazy("credit line", "Closed")


class ConsentScope(models.TextChoices):
    """The sections of the data package a consent opens to the lender."""

    ORDERS = "orders", _("Orders and counterparties")
    FULFILMENT = "fulfilment", _("Fulfilment record (shipments, acceptance, invoices)")
    ASSET = "asset", _("The asset's four-flow evidence")
    RISK = "risk", _("Risk report")


class FinancingStatus(models.TextChoices):
    DRAFT = "draft", pgettext_lazy("financing", "Draft")
    SUBMITTED = "submitted", pgettext_lazy("financing", "Submitted to the lender")
    UNDER_REVIEW = "under_review", pgettext_lazy("financing", "Under review")
    APPROVED = "approved", pgettext_lazy("financing", "Approved (maker)")
    CHECKED = "checked", pgettext_lazy("financing", "Checked (checker)")
    DISBURSED = "disbursed", pgettext_lazy("financing", "Disbursed")
    REPAID = "repaid", pgettext_lazy("financing", "Repaid")
    REJECTED = "rejected", pgettext_lazy("financing", "Rejected")
    WITHDRAWN = "withdrawn", pgettext_lazy("financing", "Withdrawn")
    EXPIRED = "expired", pgettext_lazy("financing", "Expired")


# Who makes each move of a financing application: ``applicant`` (its admins/staff), ``lender`` (the
# lender's admins/staff) or ``system`` (maturity, repayment). Anything else is 409 ``illegal_transition``.
F = FinancingStatus
FINANCING_TRANSITIONS: dict[str, dict[str, str]] = {
    F.DRAFT: {F.SUBMITTED: "applicant", F.WITHDRAWN: "applicant"},
    F.SUBMITTED: {F.UNDER_REVIEW: "lender", F.REJECTED: "lender", F.WITHDRAWN: "applicant"},
    F.UNDER_REVIEW: {F.APPROVED: "lender", F.REJECTED: "lender", F.WITHDRAWN: "applicant"},
    F.APPROVED: {F.CHECKED: "lender", F.REJECTED: "lender", F.EXPIRED: "system"},
    F.CHECKED: {F.DISBURSED: "lender", F.REJECTED: "lender", F.EXPIRED: "system"},
    F.DISBURSED: {F.REPAID: "system"},
    F.REPAID: {},
    F.REJECTED: {},
    F.WITHDRAWN: {},
    F.EXPIRED: {},
}
del F

# The states in which an application holds its asset's fingerprint (claimed at approval).
FINANCING_CLAIMING = frozenset({"approved", "checked", "disbursed", "repaid"})
# The states that still count against the credit line before the money moves (the ledger counts after).
FINANCING_RESERVING = frozenset({"approved", "checked"})
