"""统一社会信用代码 (unified social credit code, GB 32100-2015).

18 characters over a 31-character alphabet (the digits and the capitals without I, O, S, V, Z):
registration authority (1), entity type (1), region code (6), organisation code (9, GB 11714), check (1).
The check character makes ``sum(value_i × 3^(i-1) mod 31) + check ≡ 0 (mod 31)`` over the first 17.
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
WEIGHTS = [pow(3, i, 31) for i in range(17)]  # 1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28

_ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]
_ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def normalise(code: str) -> str:
    """Trim, drop inner spaces and hyphens, upper-case: what a person means when they paste a code."""
    return "".join(str(code).split()).replace("-", "").upper()


def check_character(first17: str) -> str:
    total = sum(_VALUE[c] * w for c, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def is_valid(code: str) -> bool:
    code = normalise(code)
    if len(code) != 18 or any(c not in _VALUE for c in code):
        return False
    return check_character(code[:17]) == code[17]


def organisation_check(body8: str) -> str:
    """The GB 11714 check character of an 8-character organisation code body (used to make demo codes)."""
    total = sum(_ORG_ALPHABET.index(c) * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True))
    c9 = 11 - total % 11
    return {10: "X", 11: "0"}.get(c9, str(c9))


def make(region_code: str, org_body8: str, authority: str = "9", entity_type: str = "1") -> str:
    """Build a valid USCC from its parts (demo data and tests)."""
    first17 = f"{authority}{entity_type}{region_code}{org_body8}{organisation_check(org_body8)}"
    return first17 + check_character(first17)
