"""Statuses of the trading objects and their transition tables.

Each table maps a status to the statuses it may move to and *who* may make that move. A move that is not
in the table answers 409 ``illegal_transition`` and changes nothing (see ``services._move``).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

# Who may make a move (the values of the transition tables).
SUPPLIER = "supplier"  # an admin or staff user of the listing's / quote's supplier enterprise
BUYER = "buyer"  # an admin or staff user of the demand's buyer enterprise
OPERATOR = "operator"  # an admin or staff user of the cluster's operator enterprise


class ListingStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    PAUSED = "paused", _("Paused")
    CLOSED = "closed", _("Closed")
    TAKEN_DOWN = "taken_down", _("Taken down")


LISTING_TRANSITIONS: dict[str, dict[str, str]] = {
    ListingStatus.DRAFT: {ListingStatus.PUBLISHED: SUPPLIER, ListingStatus.CLOSED: SUPPLIER},
    ListingStatus.PUBLISHED: {
        ListingStatus.PAUSED: SUPPLIER,
        ListingStatus.CLOSED: SUPPLIER,
        ListingStatus.TAKEN_DOWN: OPERATOR,
    },
    ListingStatus.PAUSED: {
        ListingStatus.PUBLISHED: SUPPLIER,
        ListingStatus.CLOSED: SUPPLIER,
        ListingStatus.TAKEN_DOWN: OPERATOR,
    },
    ListingStatus.CLOSED: {},
    ListingStatus.TAKEN_DOWN: {},
}

# A listing's terms (spec, prices, quantities, photos) change only while no buyer is looking at it.
LISTING_EDITABLE = frozenset({ListingStatus.DRAFT, ListingStatus.PAUSED})


class DemandVisibility(models.TextChoices):
    OPEN = "open", _("Open to the cluster's verified suppliers")
    INVITED = "invited", _("Invited suppliers only")


class DemandStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed to new quotes")
    CANCELLED = "cancelled", _("Cancelled")
    AWARDED = "awarded", _("Awarded")


# ``closed`` stops new quotes; the buyer may still negotiate and award the quotes it has. ``awarded`` is
# reached by ``award_quote`` when the awarded quantities add up to the demand's quantity.
DEMAND_TRANSITIONS: dict[str, dict[str, str]] = {
    DemandStatus.OPEN: {
        DemandStatus.CLOSED: BUYER,
        DemandStatus.CANCELLED: BUYER,
        DemandStatus.AWARDED: BUYER,
    },
    DemandStatus.CLOSED: {DemandStatus.CANCELLED: BUYER, DemandStatus.AWARDED: BUYER},
    DemandStatus.CANCELLED: {},
    DemandStatus.AWARDED: {},
}

# Demands on which quotes may still be negotiated and awarded.
DEMAND_ACTIVE = frozenset({DemandStatus.OPEN, DemandStatus.CLOSED})


class QuoteStatus(models.TextChoices):
    OPEN = "open", _("Open")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    DECLINED = "declined", _("Declined")
    AWARDED = "awarded", _("Awarded")


QUOTE_TRANSITIONS: dict[str, dict[str, str]] = {
    QuoteStatus.OPEN: {
        QuoteStatus.WITHDRAWN: SUPPLIER,
        QuoteStatus.DECLINED: BUYER,
        QuoteStatus.AWARDED: BUYER,
    },
    QuoteStatus.WITHDRAWN: {},
    QuoteStatus.DECLINED: {},
    QuoteStatus.AWARDED: {},
}


class Side(models.TextChoices):
    """Which party wrote a quote revision or a message."""

    BUYER = "buyer", _("Buyer")
    SUPPLIER = "supplier", _("Supplier")


class PaymentTerms(models.TextChoices):
    ESCROW = "escrow", _("Escrow (paid into the supervised account before shipment)")
    TERMS_30 = "terms_30", _("Payment terms, 30 days")
    TERMS_60 = "terms_60", _("Payment terms, 60 days")
    TERMS_90 = "terms_90", _("Payment terms, 90 days")


PAYMENT_TERM_DAYS: dict[str, int] = {
    PaymentTerms.TERMS_30: 30,
    PaymentTerms.TERMS_60: 60,
    PaymentTerms.TERMS_90: 90,
}

# ------------------------------------------------------------------------------------------------ orders

SYSTEM = "system"  # a move the platform makes as the consequence of another (both signatures, a payment)
PARTIES = "parties"  # either the buyer's or the supplier's admins/staff


class OrderOrigin(models.TextChoices):
    AWARD = "award", _("Awarded quote")
    LISTING = "listing", _("Listing purchase")


class OrderStatus(models.TextChoices):
    CREATED = "created", _("Awaiting supplier confirmation")
    CONFIRMED = "confirmed", _("Confirmed, awaiting contract")
    CONTRACT_SIGNED = "contract_signed", _("Contract signed, awaiting payment")
    PAID = "paid", _("Paid into escrow")
    ON_TERMS = "on_terms", _("On payment terms")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    ACCEPTED = "accepted", _("Accepted")
    DISPUTED = "disputed", _("In dispute")
    SETTLED = "settled", _("Settled")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")


# Who may make each move. ``PARTIES``: the buyer or the supplier; ``SYSTEM``: a consequence of another
# service (the second signature, a matched payment, an escrow acceptance, complete invoicing).
ORDER_TRANSITIONS: dict[str, dict[str, str]] = {
    OrderStatus.CREATED: {OrderStatus.CONFIRMED: SUPPLIER, OrderStatus.CANCELLED: PARTIES},
    OrderStatus.CONFIRMED: {OrderStatus.CONTRACT_SIGNED: SYSTEM, OrderStatus.CANCELLED: PARTIES},
    OrderStatus.CONTRACT_SIGNED: {
        OrderStatus.PAID: SYSTEM,
        OrderStatus.ON_TERMS: SYSTEM,
        OrderStatus.CANCELLED: PARTIES,
    },
    OrderStatus.PAID: {OrderStatus.SHIPPED: SUPPLIER, OrderStatus.CANCELLED: PARTIES},
    OrderStatus.ON_TERMS: {OrderStatus.SHIPPED: SUPPLIER, OrderStatus.CANCELLED: PARTIES},
    OrderStatus.SHIPPED: {OrderStatus.DELIVERED: PARTIES},
    OrderStatus.DELIVERED: {OrderStatus.ACCEPTED: BUYER, OrderStatus.DISPUTED: BUYER},
    OrderStatus.ACCEPTED: {OrderStatus.SETTLED: SYSTEM},
    # The operator's decision: a refund (or any decision on an escrow order) settles at once; releasing or
    # splitting an order on payment terms makes the receivable and waits for the buyer's payment.
    OrderStatus.DISPUTED: {OrderStatus.SETTLED: OPERATOR, OrderStatus.ACCEPTED: OPERATOR},
    OrderStatus.SETTLED: {OrderStatus.CLOSED: SYSTEM},
    OrderStatus.CLOSED: {},
    OrderStatus.CANCELLED: {},
}

# Orders whose reserved stock is still held by the listing (released by a cancellation).
ORDER_OPEN = frozenset(
    {
        OrderStatus.CREATED,
        OrderStatus.CONFIRMED,
        OrderStatus.CONTRACT_SIGNED,
        OrderStatus.PAID,
        OrderStatus.ON_TERMS,
        OrderStatus.SHIPPED,
        OrderStatus.DELIVERED,
        OrderStatus.ACCEPTED,
        OrderStatus.DISPUTED,
    }
)


class DisputeDecision(models.TextChoices):
    RELEASE = "release", _("Release to the supplier")
    REFUND = "refund", _("Refund the buyer")
    SPLIT = "split", _("Split between them")


class InvoiceType(models.TextChoices):
    SPECIAL = "vat_special", _("VAT special invoice (专票)")
    ORDINARY = "vat_ordinary", _("VAT ordinary invoice (普票)")
    DIGITAL_SPECIAL = "digital_special", _("Fully digitalised e-invoice, special (数电专票)")
    DIGITAL_ORDINARY = "digital_ordinary", _("Fully digitalised e-invoice, ordinary (数电普票)")


class InvoiceStatus(models.TextChoices):
    RECORDED = "recorded", _("Recorded by the supplier")
    CONFIRMED = "confirmed", _("Receipt confirmed by the buyer")
    REJECTED = "rejected", _("Rejected by the buyer")


class PaymentMethod(models.TextChoices):
    MANUAL_TRANSFER = "manual_transfer", _("Bank transfer confirmed by the operator")
    BANK_STATEMENT = "bank_statement", _("Bank statement line")
    PLATFORM_CASH = "platform_cash", _("Paid from money held on the platform")


class PaymentPurpose(models.TextChoices):
    ESCROW = "escrow", _("Into escrow before shipment")
    TERMS = "terms", _("Settlement of payment terms")


class BankLineStatus(models.TextChoices):
    MATCHED = "matched", _("Matched to an order")
    UNMATCHED = "unmatched", _("Not matched")
    OUTGOING = "outgoing", _("Outgoing (not a receipt)")
