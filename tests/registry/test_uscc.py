import pytest

from chanlian.registry import uscc
from chanlian.registry.uscc import ALPHABET

REAL = ["9144030071526726XG", "91110000710926094P", "91310000631696382C"]


@pytest.mark.parametrize("code", REAL)
def test_real_public_codes_pass(code):
    assert uscc.is_valid(code)


@pytest.mark.parametrize("code", REAL)
def test_any_single_changed_character_fails(code):
    for i in range(18):
        for replacement in ALPHABET:
            if replacement == code[i]:
                continue
            changed = code[:i] + replacement + code[i + 1 :]
            assert not uscc.is_valid(changed), changed


def test_lowercase_and_spaces_are_normalised():
    assert uscc.is_valid("  9144030071526726xg ")
    assert uscc.normalise(" 9144 0300 7152 6726xg ") == "9144030071526726XG"


@pytest.mark.parametrize(
    "bad", ["", "123", "9144030071526726X", "9144030071526726XGG", "914403007152672IXG", "91440300715267260G"]
)
def test_malformed_codes_fail(bad):
    assert not uscc.is_valid(bad)


def test_forbidden_letters_fail_even_with_a_matching_check():
    # I, O, S, V, Z are not in the alphabet at all.
    for letter in "IOSVZ":
        assert not uscc.is_valid("9144030071526726" + letter + "G")


def test_made_codes_are_valid_and_carry_a_valid_organisation_check():
    code = uscc.make("350524", "12345678")
    assert uscc.is_valid(code)
    assert code[2:8] == "350524"
    assert code[16] == uscc.organisation_check("12345678")
