"""validate_spec, the one check of spec values; match_spec / spec_matches, listing values vs demands."""

from decimal import Decimal

import pytest
from django.utils import translation

from chanlian.core.errors import InvalidInput
from chanlian.industry.packs import get_pack
from chanlian.industry.spec import clean_value, match_spec, spec_matches, validate_spec


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def tea():
    return get_pack("tea")


@pytest.fixture
def steel():
    return get_pack("stainless")


@pytest.fixture
def veg():
    return get_pack("vegetables")


RAW_TEA = {
    "grade": "grade_1",
    "aroma_type": "qingxiang",
    "harvest_season": "autumn",
    "harvest_year": 2025,
}


def refused(pack, category, values, **kwargs) -> dict:
    with pytest.raises(InvalidInput) as info:
        validate_spec(pack, category, values, **kwargs)
    assert info.value.code == "invalid_spec"
    return info.value.fields


# -- exact mode (listings) --------------------------------------------------------------------------------


def test_good_values_are_cleaned_and_normalised(tea):
    cleaned = validate_spec(
        tea,
        "finished_tea",
        {
            "harvest_year": "2025",
            "aroma_type": " 清香型 ",  # a Chinese name is accepted and stored as the key
            "grade": "Premium grade",  # so is the English name, case-insensitively
            "harvest_season": "spring",
            "net_weight_g": "250",
            "moisture_pct": 6.5,  # a float is read through str(): exactly 6.5
            "gi_mark": "是",
            "organic": False,
            "brand": "  安溪铁观音集团  ",
            "roast_level": None,  # blank values are absent
            "origin_township": "",
        },
    )
    assert cleaned == {
        "grade": "premium",
        "aroma_type": "qingxiang",
        "harvest_season": "spring",
        "harvest_year": 2025,
        "net_weight_g": "250.0",
        "brand": "安溪铁观音集团",
        "gi_mark": True,
        "moisture_pct": "6.5",
        "organic": False,
    }
    assert list(cleaned) == [k for k in tea.category("finished_tea").attribute_keys() if k in cleaned]


def test_steel_values_accept_unified_numbers_and_keep_exact_decimals(steel):
    cleaned = validate_spec(
        steel,
        "coil",
        {
            "grade": "prime",
            "steel_grade": "S31603",
            "rolling": "cold_rolled",
            "thickness_mm": Decimal("0.5"),
            "width_mm": 1219,
            "surface": "2b",
            "coil_weight_t": "5.125",
        },
    )
    assert cleaned["steel_grade"] == "316L"
    assert cleaned["thickness_mm"] == "0.50"
    assert cleaned["width_mm"] == "1219.0"
    assert cleaned["surface"] == "2B"
    assert cleaned["coil_weight_t"] == "5.125"
    assert validate_spec(steel, "coil", {**cleaned, "steel_grade": 304})["steel_grade"] == "304"
    # trailing zeros beyond the allowed decimals are not "too many decimals"
    assert validate_spec(steel, "coil", {**cleaned, "thickness_mm": "1.500"})["thickness_mm"] == "1.50"


def test_wrong_enum_value_names_the_field_and_lists_allowed_values(tea):
    fields = refused(tea, "raw_tea", {**RAW_TEA, "aroma_type": "smoky"})
    assert list(fields) == ["aroma_type"]
    message = fields["aroma_type"]
    assert "'smoky' is not an allowed value" in message
    for key in ("qingxiang", "nongxiang", "chenxiang"):
        assert key in message


def test_grade_must_be_one_of_the_categorys_grades(tea):
    fields = refused(tea, "other_oolong", {"variety": "benshan", "form": "raw", "grade": "grade_4"})
    assert "grade" in fields and "premium" in fields["grade"] and "grade_4 (" not in fields["grade"]


def test_numbers_out_of_range(tea, steel):
    fields = refused(tea, "raw_tea", {**RAW_TEA, "harvest_year": 1999})
    assert fields == {"harvest_year": "1999 is below the minimum 2000."}
    fields = refused(steel, "coil", {"thickness_mm": "120", "width_mm": "2"})
    assert fields["thickness_mm"] == "120 mm is above the maximum 100.00 mm."
    assert fields["width_mm"] == "2 mm is below the minimum 5.0 mm."


def test_too_many_decimals_and_not_numbers(steel, tea):
    fields = refused(steel, "coil", {"thickness_mm": "1.555", "width_mm": "wide", "coil_weight_t": True})
    assert fields["thickness_mm"] == "At most 2 decimal places."
    assert fields["width_mm"] == "Must be a number, not 'wide'."
    assert fields["coil_weight_t"] == "Must be a number."
    fields = refused(tea, "raw_tea", {**RAW_TEA, "harvest_year": "2025.5"})
    assert fields == {"harvest_year": "Must be a whole number."}
    fields = refused(steel, "coil", {"thickness_mm": "NaN", "width_mm": "1e400"})
    assert fields["thickness_mm"] == "Must be a finite number."
    assert "width_mm" in fields


def test_missing_required_attributes(tea):
    fields = refused(tea, "raw_tea", {"aroma_type": "nongxiang"})
    assert fields == {
        "grade": "This attribute is required.",
        "harvest_season": "This attribute is required.",
        "harvest_year": "This attribute is required.",
    }
    # blank counts as missing
    assert "grade" in refused(tea, "raw_tea", {**RAW_TEA, "grade": "  "})


def test_unknown_attribute(tea):
    fields = refused(tea, "raw_tea", {**RAW_TEA, "colour": "green"})
    assert list(fields) == ["colour"]
    assert fields["colour"].startswith(
        "Unknown attribute for Tieguanyin raw tea (maocha); known: grade, aroma_type"
    )


def test_text_too_long_and_not_text(tea):
    fields = refused(tea, "raw_tea", {**RAW_TEA, "origin_township": "西" * 51})
    assert fields == {"origin_township": "At most 50 characters (got 51)."}
    assert refused(tea, "raw_tea", {**RAW_TEA, "origin_township": 7}) == {"origin_township": "Must be text."}


def test_booleans(tea):
    assert validate_spec(
        tea,
        "fresh_leaf",
        {"cultivar": "tieguanyin", "harvest_season": "spring", "organic": "yes", "green_food": 0},
    ) == {"cultivar": "tieguanyin", "harvest_season": "spring", "green_food": False, "organic": True}
    assert refused(
        tea, "fresh_leaf", {"cultivar": "tieguanyin", "harvest_season": "spring", "organic": "maybe"}
    ) == {"organic": "Must be true or false."}


def test_every_bad_attribute_is_named_at_once(steel):
    with pytest.raises(InvalidInput) as info:
        validate_spec(steel, "pipe", {"steel_grade": "305", "wall_thickness_mm": "0.1", "colour": "red"})
    err = info.value
    assert set(err.fields) == {"steel_grade", "wall_thickness_mm", "colour", "grade", "pipe_type", "shape"}
    assert err.as_dict()["code"] == "invalid_spec"
    assert "steel_grade" in err.as_dict()["detail"]


def test_unknown_category_and_non_object_values(tea):
    with pytest.raises(InvalidInput) as info:
        validate_spec(tea, "coffee", {})
    assert info.value.code == "unknown_category"
    assert refused(tea, "raw_tea", ["grade_1"]) == {
        "spec": "The specification must be an object of attribute values."
    }
    with pytest.raises(ValueError):
        validate_spec(tea, "raw_tea", RAW_TEA, mode="fuzzy")


def test_messages_are_translatable(tea):
    with translation.override("zh-hans"):
        fields = refused(tea, "raw_tea", {**RAW_TEA, "aroma_type": "smoky"})
    # Allowed values are labelled in the active language.
    assert "qingxiang (清香型)" in fields["aroma_type"]


def test_clean_value_for_one_attribute(steel):
    attr = steel.category("coil").attribute("thickness_mm")
    assert clean_value(attr, "2") == "2.00"
    with pytest.raises(InvalidInput) as info:
        clean_value(attr, "-1")
    assert "thickness_mm" in info.value.fields


# -- constraint mode (demands) ----------------------------------------------------------------------------


def test_constraints_take_ranges_and_lists_and_require_nothing(steel):
    cleaned = validate_spec(
        steel,
        "coil",
        {
            "steel_grade": ["304", "S31603", "304"],
            "thickness_mm": {"min": "0.5", "max": 2},
            "width_mm": {"min": 1000},
            "surface": "2B",
            "grade": [],  # empty list: no constraint
        },
        mode="constraint",
    )
    assert cleaned == {
        "steel_grade": ["304", "316L"],
        "thickness_mm": {"min": "0.50", "max": "2.00"},
        "width_mm": {"min": "1000.0"},
        "surface": "2B",
    }


def test_bad_constraints(steel, tea):
    fields = refused(
        steel,
        "coil",
        {
            "thickness_mm": {"min": 3, "max": 1},
            "width_mm": {"from": 1},
            "coil_weight_t": {"min": None},
            "steel_grade": ["304", "999"],
            "edge": {"min": 1},
            "mill": ["太钢", "青山"],
        },
        mode="constraint",
    )
    assert fields["thickness_mm"] == "The range minimum is greater than its maximum."
    assert fields["width_mm"] == "A range takes only min and max."
    assert fields["steel_grade"].startswith("'999' is not an allowed value")
    assert "edge" in fields
    assert fields["mill"] == "Give a single value."
    assert "coil_weight_t" not in fields  # all-blank range: no constraint
    fields = refused(
        tea, "raw_tea", {"harvest_year": {"min": 1990}, "moisture_pct": [5, 6]}, mode="constraint"
    )
    assert fields["harvest_year"] == "1990 is below the minimum 2000."
    assert fields["moisture_pct"] == "Give a number or a range {min, max}."


def test_spec_matches(steel):
    listing = validate_spec(
        steel,
        "coil",
        {
            "grade": "prime",
            "steel_grade": "304",
            "rolling": "cold_rolled",
            "thickness_mm": "1.2",
            "width_mm": "1219",
            "surface": "2B",
            "mill": "太钢不锈",
            "film": "pe",
        },
    )
    demand = {"steel_grade": ["304", "304L"], "thickness_mm": {"min": "1.0", "max": "1.5"}, "surface": "2B"}
    assert spec_matches(steel, "coil", demand, listing)
    assert spec_matches(steel, "coil", {}, listing)
    assert not spec_matches(steel, "coil", {**demand, "thickness_mm": {"max": "1.0"}}, listing)
    assert not spec_matches(steel, "coil", {**demand, "steel_grade": "316L"}, listing)
    assert spec_matches(steel, "coil", {"thickness_mm": "1.20"}, listing)
    # a constraint on something the listing does not state is not met
    assert not spec_matches(steel, "coil", {"edge": "trimmed"}, listing)


def test_soft_constraints_rank_but_do_not_exclude(steel):
    listing = {
        "grade": "prime",
        "steel_grade": "304",
        "rolling": "cold_rolled",
        "thickness_mm": "1.20",
        "width_mm": "1219.0",
        "surface": "2B",
        "mill": "太钢不锈",
        "film": "pe",
    }
    result = match_spec(steel, "coil", {"steel_grade": "304", "mill": "太钢", "film": "laser"}, listing)
    assert result.matches
    assert result.soft_matched == ("mill",)  # text constraints match by "contains", case-insensitively
    assert result.soft_failed == ("film",)
    assert result.score == Decimal("0.5000")
    failed = match_spec(steel, "coil", {"steel_grade": "201", "rolling": "hot_rolled"}, listing)
    assert not failed.matches and failed.hard_failed == ("steel_grade", "rolling")
    assert failed.score == Decimal(1)


def test_matching_reads_stored_values_leniently_and_constraints_strictly(veg):
    stored = {
        "grade": "grade_1",
        "fruit_type": "pink",
        "cultivation": "protected",
        "size": "XL",
        "old_key": 1,
    }
    assert spec_matches(
        veg, "tomato", {"fruit_type": ["pink", "red"], "grade": ["premium", "grade_1"]}, stored
    )
    # a stored value that no longer fits the pack counts as missing
    assert not spec_matches(veg, "tomato", {"size": "L"}, stored)
    with pytest.raises(InvalidInput):
        spec_matches(veg, "tomato", {"fruit_type": "purple"}, stored)


def test_grades_at_least_feeds_a_constraint(tea):
    raw = tea.category("raw_tea")
    demand = {"grade": list(raw.grades_at_least("grade_1"))}
    assert spec_matches(tea, "raw_tea", demand, {**RAW_TEA, "grade": "premium"})
    assert not spec_matches(tea, "raw_tea", demand, {**RAW_TEA, "grade": "grade_2"})


def test_basket_constraints_are_cleaned_like_demands(tea, steel, veg):
    items = {i.key: i for i in steel.basket.items}
    assert items["coil_304_2b"].spec_dict()["thickness_mm"] == {"min": "0.50", "max": "3.00"}
    fresh = next(i for i in tea.basket.items if i.category == "fresh_leaf")
    assert fresh.spec_dict() == {"cultivar": "tieguanyin", "harvest_season": ["spring", "autumn"]}
    tomato = next(i for i in veg.basket.items if i.category == "tomato")
    assert spec_matches(veg, "tomato", tomato.spec_dict(), {"grade": "premium", "fruit_type": "red"})
