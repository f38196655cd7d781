"""Money is a Decimal amount with an explicit currency. Never a float.

Amounts are kept exact; rounding to the fen (0.01, half-up) happens at the edges only, through
``Money.rounded()`` or ``to_fen``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from .errors import InvalidInput

FEN = Decimal("0.01")
MAX_AMOUNT = Decimal("1e18")
CNY = "CNY"


def to_fen(value: Decimal) -> Decimal:
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


def parse_amount(
    value, *, field: str = "amount", allow_zero: bool = False, allow_negative: bool = False
) -> Decimal:
    """Parse user input into an exact amount with at most two decimals, or refuse with a clear code."""
    if isinstance(value, float):
        raise InvalidInput(
            f"{field}: money must be given as a string or Decimal, not a float",
            code="invalid_amount",
            fields={field: "float"},
        )
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidInput(
            f"{field}: not a number", code="invalid_amount", fields={field: str(value)}
        ) from None
    if not amount.is_finite():
        raise InvalidInput(f"{field}: not a finite number", code="invalid_amount", fields={field: str(value)})
    if abs(amount) >= MAX_AMOUNT:
        # DecimalField(max_digits=20, decimal_places=2) holds 18 integer digits; beyond that a row could not
        # store it, and quantizing past 28 significant digits would raise.
        raise InvalidInput(f"{field}: too large", code="amount_too_large", fields={field: str(value)[:40]})
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and amount != amount.quantize(FEN):
        raise InvalidInput(
            f"{field}: at most 2 decimals", code="too_many_decimals", fields={field: str(value)}
        )
    if amount < 0 and not allow_negative:
        raise InvalidInput(
            f"{field}: must not be negative", code="negative_amount", fields={field: str(value)}
        )
    if amount == 0 and not allow_zero:
        raise InvalidInput(
            f"{field}: must be greater than zero", code="zero_amount", fields={field: str(value)}
        )
    return amount.quantize(FEN)


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str = CNY

    def __post_init__(self):
        if isinstance(self.amount, float):
            raise TypeError("Money amounts must not be floats")
        if not isinstance(self.amount, Decimal):
            object.__setattr__(self, "amount", Decimal(str(self.amount)))

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError("Money can only be combined with Money")
        if other.currency != self.currency:
            raise ValueError(f"currency mismatch: {self.currency} vs {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor) -> Money:
        if isinstance(factor, float):
            raise TypeError("Money cannot be multiplied by a float")
        return Money(self.amount * Decimal(factor), self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def rounded(self) -> Money:
        return Money(to_fen(self.amount), self.currency)

    def __str__(self) -> str:
        return f"{to_fen(self.amount):,.2f} {self.currency}"

    def as_json(self) -> dict:
        return {"amount": f"{to_fen(self.amount):.2f}", "currency": self.currency}

    @classmethod
    def zero(cls, currency: str = CNY) -> Money:
        return cls(Decimal("0"), currency)
