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
