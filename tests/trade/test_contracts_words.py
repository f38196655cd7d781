"""人民币大写: the converter that writes a contract's total in capital numerals."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chanlian.trade.services.contracts import amount_in_words

CASES = [
    ("0", "零元整"),
    ("0.00", "零元整"),
    ("0.01", "壹分"),
    ("0.10", "壹角"),
    ("0.56", "伍角陆分"),
    ("1", "壹元整"),
    ("1.05", "壹元零伍分"),
    ("1.50", "壹元伍角"),
    ("10", "壹拾元整"),
    ("15", "壹拾伍元整"),
    ("20.3", "贰拾元叁角"),
    ("100", "壹佰元整"),
    ("101", "壹佰零壹元整"),
    ("110", "壹佰壹拾元整"),
    ("1001", "壹仟零壹元整"),
    ("1010", "壹仟零壹拾元整"),
    ("1100", "壹仟壹佰元整"),
    ("1680.32", "壹仟陆佰捌拾元叁角贰分"),
    ("10000", "壹万元整"),
    ("10001", "壹万零壹元整"),
    ("10010", "壹万零壹拾元整"),
    ("10100", "壹万零壹佰元整"),
    ("11000", "壹万壹仟元整"),
    ("12345.67", "壹万贰仟叁佰肆拾伍元陆角柒分"),
    ("36000.00", "叁万陆仟元整"),
    ("103200", "壹拾万叁仟贰佰元整"),
    ("100000", "壹拾万元整"),
    ("1000000", "壹佰万元整"),
    ("1001000", "壹佰万壹仟元整"),
    ("10000000", "壹仟万元整"),
    ("10010000", "壹仟零壹万元整"),
    ("100000000", "壹亿元整"),
    ("100000001", "壹亿零壹元整"),
    ("100010000", "壹亿零壹万元整"),
    ("101000000", "壹亿零壹佰万元整"),
    ("110000000", "壹亿壹仟万元整"),
    ("123456789.01", "壹亿贰仟叁佰肆拾伍万陆仟柒佰捌拾玖元零壹分"),
    ("1000000000000", "壹万亿元整"),
    ("1000100000000", "壹万零壹亿元整"),
    ("9999999999999999.99", "玖仟玖佰玖拾玖万玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
    ("2.005", "贰元零壹分"),  # half-up to the fen
    ("2.004", "贰元整"),
]


@pytest.mark.parametrize(("amount", "words"), CASES)
def test_capital_numerals(amount, words):
    assert amount_in_words(Decimal(amount)) == words


def test_accepts_strings_and_ints_not_floats_or_negatives():
    assert amount_in_words("12345.67") == "壹万贰仟叁佰肆拾伍元陆角柒分"
    assert amount_in_words(5) == "伍元整"
    with pytest.raises(TypeError):
        amount_in_words(1.5)
    with pytest.raises(ValueError):
        amount_in_words(Decimal("-1"))


def _reference(n: int) -> str:
    """An independent (slow, digit-by-digit) writer of the integer part, for the round-trip check."""
    digits = "零壹贰叁肆伍陆柒捌玖"
    if n == 0:
        return ""
    s = str(n)
    units = ["", "拾", "佰", "仟"]
    big = ["", "万", "亿", "万亿"]
    out = ""
    zero = False
    for i, ch in enumerate(s):
        pos = len(s) - 1 - i
        d = int(ch)
        if d == 0:
            zero = True
        else:
            if zero and out:
                out += "零"
            zero = False
            out += digits[d] + units[pos % 4]
        if pos % 4 == 0 and pos:
            section = s[max(0, i - 3) : i + 1]
            if int(section):
                out += big[pos // 4]
                zero = False  # a section's own trailing zeros do not carry over (壹拾万壹仟)
    return out.replace("万万亿", "万亿")


def _parse(words: str) -> int:
    """Capital numerals back to an integer of fen (the inverse, written independently)."""
    digits = {c: i for i, c in enumerate("零壹贰叁肆伍陆柒捌玖")}
    small = {"拾": 10, "佰": 100, "仟": 1000}
    words = words.removesuffix("整")
    fen = 0
    if "元" in words:
        yuan_text, rest = words.split("元", 1)
    else:
        yuan_text, rest = "", words
    for unit, value in (("角", 10), ("分", 1)):
        if unit in rest:
            before, rest = rest.split(unit, 1)
            fen += digits[before[-1]] * value
    total = 0
    section = 0
    number = 0
    yi_part = 0
    for ch in yuan_text:
        if ch in digits:
            number = digits[ch]
        elif ch in small:
            section += number * small[ch]
            number = 0
        elif ch == "万":
            total += (section + number) * 10**4
            section = number = 0
        elif ch == "亿":
            yi_part = (yi_part + total + section + number) * 10**8
            total = section = number = 0
    total = yi_part + total + section + number
    return total * 100 + fen


@pytest.mark.parametrize(
    "fen",
    [
        1,
        9,
        10,
        99,
        100,
        105,
        1000,
        100_005,
        1_000_000,
        10_000_001,
        100_010_000,
        1_000_000_000,
        10_000_000_001,
        *range(1, 10**16, 7_919_009_333_437),
    ],
)
def test_round_trip(fen):
    words = amount_in_words(Decimal(fen) / 100)
    assert _parse(words) == fen, words
    yuan = fen // 100
    if 0 < yuan < 10**12:  # beyond, the reference writes 万亿…亿 where the converter writes 万…亿
        assert words.startswith(_reference(yuan) + "元"), (words, _reference(yuan))
    # never two 零 in a row, never 零 before 元 or at the start
    assert "零零" not in words
    assert "零元" not in words
    assert not words.startswith("零")


@given(st.integers(min_value=0, max_value=10**18 - 1))
@settings(max_examples=500, deadline=None)
def test_any_amount_reads_back(fen):
    words = amount_in_words(Decimal(fen) / 100)
    assert _parse(words) == fen, words
    assert "零零" not in words
    assert words.endswith(("整", "角", "分"))
    assert set(words) <= set("零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整")
