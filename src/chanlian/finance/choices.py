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


# A voucher's moves. ``split`` is final: the parts carry on, each a voucher of its own.
VOUCHER_TRANSITIONS: dict[str, frozenset[str]] = {
    VoucherStatus.HELD: frozenset({VoucherStatus.TRANSFERRING, VoucherStatus.SPLIT}),
    VoucherStatus.TRANSFERRING: frozenset({VoucherStatus.HELD}),
    VoucherStatus.SPLIT: frozenset(),
}


class VoucherEventKind(models.TextChoices):
    ISSUED = "issued", _("Issued by the debtor")
    SPLIT = "split", _("Split into parts")
    SPLIT_FROM = "split_from", _("Created by a split")
    TRANSFER_OFFERED = "transfer_offered", _("Transfer offered")
    TRANSFER_ACCEPTED = "transfer_accepted", _("Transfer accepted")
    TRANSFER_DECLINED = "transfer_declined", _("Transfer declined")
    TRANSFER_WITHDRAWN = "transfer_withdrawn", _("Transfer withdrawn")


class TransferStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting the receiver")
    ACCEPTED = "accepted", pgettext_lazy("voucher transfer", "Accepted")
    DECLINED = "declined", _("Declined")
    WITHDRAWN = "withdrawn", _("Withdrawn by the holder")


class AssetKind(models.TextChoices):
    VOUCHER = "voucher", _("Voucher part")
    RECEIVABLE = "receivable", _("Receivable")
    INVOICE = "invoice", _("Invoice")
