"""Parsing of the values trading takes from users: quantities, prices, dates, texts.

Each parser refuses bad input with ``InvalidInput`` naming the field and a clear code; none of them
goes through binary floating point.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chanlian.core.errors import InvalidInput
from chanlian.core.money import parse_amount

QUANTITY_PLACES = Decimal("0.001")
MAX_QUANTITY = Decimal("1000000000000")  # 10^12 of any unit: more is a typo, and totals must fit
MAX_AMOUNT = Decimal("10000000000000000")  # 10^16 yuan: fits Decimal(20, 2) with room for sums

FIELD_LABELS = {
    "title": gettext_lazy("Title"),
    "description": gettext_lazy("Description"),
    "reason": gettext_lazy("Reason"),
    "note": gettext_lazy("Note"),
    "body": gettext_lazy("Message"),
    "quantity": gettext_lazy("Quantity"),
    "moq": gettext_lazy("Minimum order quantity"),
    "available_quantity": gettext_lazy("Available quantity"),
    "min_quantity": gettext_lazy("Tier quantity"),
    "unit_price": gettext_lazy("Unit price"),
    "target_unit_price": gettext_lazy("Target unit price"),
    "needed_by": gettext_lazy("Needed-by date"),
    "quote_deadline": gettext_lazy("Quote deadline"),
    "delivery_date": gettext_lazy("Delivery date"),
    "valid_until": gettext_lazy("Valid until"),
    "lead_time_days": gettext_lazy("Lead time"),
}


def label(field: str) -> str:
    return str(FIELD_LABELS.get(field.split(".")[-1].split("[")[0], field))


def text(value, field: str, *, max_length: int, required: bool = False) -> str:
    result = "" if value is None else str(value).strip()
    if required and not result:
        raise InvalidInput(
            _("%(field)s is required.") % {"field": label(field)}, code="required", fields={field: "required"}
        )
    if len(result) > max_length:
        raise InvalidInput(
            _("%(field)s is too long (at most %(n)d characters).") % {"field": label(field), "n": max_length},
            code="too_long",
            fields={field: "too long"},
        )
    return result


def quantity(value, field: str = "quantity", *, allow_zero: bool = False) -> Decimal:
    """A quantity with at most three decimals: ``quantity_not_positive`` for ≤ 0 (or < 0 with
    ``allow_zero``), ``invalid_quantity`` for anything that is not such a number."""
    bad = InvalidInput(
        _("%(field)s must be a number with at most 3 decimals.") % {"field": label(field)},
        code="invalid_quantity",
        fields={field: str(value)[:40]},
    )
    if isinstance(value, bool | float) or value is None:
        raise bad
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise bad from None
    if not number.is_finite():
        raise bad
    if number < 0 or (number == 0 and not allow_zero):
        raise InvalidInput(
            _("%(field)s must be greater than zero.") % {"field": label(field)}
            if not allow_zero
            else _("%(field)s must not be negative.") % {"field": label(field)},
            code="quantity_not_positive",
            fields={field: str(value)[:40]},
        )
    if number > MAX_QUANTITY:
        raise InvalidInput(
            _("%(field)s is too large.") % {"field": label(field)},
            code="invalid_quantity",
            fields={field: str(value)[:40]},
        )
    if number != number.quantize(QUANTITY_PLACES):
        raise bad
    return number.quantize(QUANTITY_PLACES)


def price(value, field: str = "unit_price") -> Decimal:
    """A unit price in yuan: > 0, at most two decimals (``core.money.parse_amount``), and bounded."""
    if value is None:
        raise InvalidInput(
            _("%(field)s is required.") % {"field": label(field)}, code="required", fields={field: "required"}
        )
    try:
        # parse_amount quantizes to the fen, which fails beyond the decimal context's 28 digits: refuse
        # what is far too large first, with the code a client can act on.
        rough = Decimal(str(value).strip()) if not isinstance(value, float | bool) else None
    except (InvalidOperation, ValueError):
        rough = None
    if rough is not None and rough.is_finite():
        check_amount(abs(rough), field)
    amount = parse_amount(value, field=field)
    check_amount(amount, field)
    return amount


def check_amount(amount: Decimal, field: str) -> None:
    if amount >= MAX_AMOUNT:
        raise InvalidInput(
            _("%(field)s is too large.") % {"field": label(field)},
            code="amount_too_large",
            fields={field: str(amount)[:40]},
        )


def date(value, field: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    if isinstance(value, dt.date):
        return value
    parsed = None
    try:
        parsed = parse_date(str(value).strip()) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise InvalidInput(
            _("%(field)s must be a date (YYYY-MM-DD).") % {"field": label(field)},
            code="invalid_date",
            fields={field: str(value)[:40]},
        )
    return parsed


def moment(value, field: str) -> dt.datetime:
    parsed = value if isinstance(value, dt.datetime) else None
    if parsed is None and isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
    if parsed is None:
        raise InvalidInput(
            _("%(field)s must be a date and time (ISO 8601).") % {"field": label(field)},
            code="invalid_datetime",
            fields={field: str(value)[:40]},
        )
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def not_before_today(day: dt.date, field: str, code: str) -> dt.date:
    if day < timezone.localdate():
        raise InvalidInput(
            _("%(field)s is in the past.") % {"field": label(field)}, code=code, fields={field: str(day)}
        )
    return day


def _bad_text(value: str) -> bool:
    return "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value)


def plain_json(value, field: str = "spec"):
    """Refuse strings that no database stores as text (NUL) or no encoder writes (lone surrogates)
    anywhere in a JSON value, keys included, before they reach validation messages or a JSON column."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str) and _bad_text(item):
            raise InvalidInput(
                _("The specification contains characters that are not allowed."),
                code="invalid_spec",
                fields={field: "invalid characters"},
            )
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return value
