import pytest

from chanlian.regions.selectors import read_region_code

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("350524", "350524"),
        ("350524 福建省泉州市安溪县", "350524"),  # a datalist pick
        ("安溪县", "350524"),  # an unambiguous name
        ("福建省泉州市安溪县", "350524"),  # a full name
        ("", ""),
        ("  ", ""),
        ("1234567", "1234567"),  # seven digits are no code: left for the service to refuse
        ("没有这个县", "没有这个县"),
        ("县" * 100, "县" * 64),
    ],
)
def test_what_a_person_typed_becomes_a_code_or_stays_as_typed(typed, code):
    assert read_region_code(typed) == code
