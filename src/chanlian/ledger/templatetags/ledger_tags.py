"""Money on the ledger pages: 2 decimals with thousands separators, never a negative zero."""

from __future__ import annotations

from decimal import Decimal

from django import template

from chanlian.core.money import FEN

register = template.Library()


@register.filter
def money(value) -> str:
    if value in (None, ""):
        return ""
    amount = Decimal(value).quantize(FEN)
    if amount == 0:
        amount = Decimal("0.00")
    return f"{amount:,.2f}"


@register.filter
def tone_of(value) -> str:
    """``neg`` for a figure below zero (an account on the wrong side of its normal balance)."""
    return "neg" if value is not None and Decimal(value) < 0 else ""
