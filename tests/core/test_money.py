from decimal import Decimal

import pytest

from chanlian.core.errors import InvalidInput
from chanlian.core.money import Money, parse_amount, to_fen


def test_money_is_exact_and_refuses_floats():
    assert Money(Decimal("0.10")) + Money(Decimal("0.20")) == Money(Decimal("0.30"))
    with pytest.raises(TypeError):
        Money(0.1)
    with pytest.raises(TypeError):
        Money(Decimal("1")) * 1.5
    with pytest.raises(ValueError, match="currency"):
        Money(Decimal("1")) + Money(Decimal("1"), "USD")


def test_rounding_is_half_up_to_the_fen_at_the_edge():
    assert to_fen(Decimal("2.345")) == Decimal("2.35")
    assert to_fen(Decimal("-2.345")) == Decimal("-2.35")
    assert (Money(Decimal("10")) * Decimal("0.0125")).rounded().amount == Decimal("0.13")
    assert Money(Decimal("1234.5")).as_json() == {"amount": "1234.50", "currency": "CNY"}
    assert str(Money(Decimal("1234567.891"))) == "1,234,567.89 CNY"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("1.234", "too_many_decimals"),
        ("-1", "negative_amount"),
        ("0", "zero_amount"),
        ("abc", "invalid_amount"),
        ("NaN", "invalid_amount"),
        ("Infinity", "invalid_amount"),
        (1.5, "invalid_amount"),
    ],
)
def test_parse_amount_refuses_bad_input(raw, code):
    with pytest.raises(InvalidInput) as exc:
        parse_amount(raw)
    assert exc.value.code == code


def test_parse_amount_accepts_money_strings():
    assert parse_amount("180") == Decimal("180.00")
    assert parse_amount(" 165.50 ") == Decimal("165.50")
    assert parse_amount("1.500") == Decimal("1.50")  # trailing zeros are not extra precision
    assert parse_amount("0", allow_zero=True) == Decimal("0.00")
