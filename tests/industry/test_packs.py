"""Pack files: the shipped packs load; a broken pack is refused with its file and key path named."""

from decimal import Decimal
from pathlib import Path

import pytest
from django.test import override_settings

from chanlian.core.errors import InvalidInput, NotFound
from chanlian.industry.packs import (
    BUILTIN_PACK_DIR,
    GRADE_ATTRIBUTE,
    PackError,
    all_packs,
    get_pack,
    load_pack_file,
    pack_keys,
)

SHIPPED = ["stainless", "tea", "vegetables"]

# A small valid pack; each breakage below edits one line of it.
DEMO = """
[pack]
key = "demo"
version = "1.0.0"
name_zh = "示例"
name_en = "Demo"
currency = "CNY"

[[units]]
key = "kg"
name_zh = "千克"
name_en = "kilogram"
dimension = "mass"
factor = 1

[[units]]
key = "jin"
name_zh = "斤"
name_en = "jin"
dimension = "mass"
factor = 0.5

[[units]]
key = "box"
name_zh = "箱"
name_en = "case"
dimension = "count"
factor = 1

[[stages]]
key = "growing"
name_zh = "种植"
name_en = "Growing"
order = 10

[[stages]]
key = "trading"
name_zh = "流通"
name_en = "Trading"
order = 20

[[stages]]
key = "testing"
name_zh = "检测"
name_en = "Testing"
order = 90
kind = "service"
supplies = ["trading"]

[[grades]]
key = "premium"
name_zh = "特级"
name_en = "Premium"
standard = "NY/T 943-2006 大白菜等级规格"

[[grades]]
key = "grade_1"
name_zh = "一级"
name_en = "Grade 1"

[[attributes]]
key = "organic"
name_zh = "有机"
name_en = "Organic"
type = "boolean"

[[categories]]
key = "apple"
name_zh = "苹果"
name_en = "Apple"
stage = "growing"
unit = "kg"
units = ["kg", "jin"]
grades = ["grade_1", "premium"]

  [[categories.attributes]]
  key = "colour"
  name_zh = "颜色"
  name_en = "Colour"
  type = "enum"
  required = true
  choices = [
    { key = "red", name_zh = "红", name_en = "Red" },
    { key = "green", name_zh = "绿", name_en = "Green" },
  ]

  [[categories.attributes]]
  key = "weight_g"
  name_zh = "单果重"
  name_en = "Fruit weight"
  type = "decimal"
  unit = "g"
  min = 50
  max = 800
  decimals = 1

  [[categories.attributes]]
  use = "organic"

[[categories]]
key = "pear"
name_zh = "梨"
name_en = "Pear"
stage = "trading"
unit = "box"

[basket]
  [[basket.items]]
  key = "red_apple"
  category = "apple"
  spec = { colour = "red" }
  weight = 0.6

  [[basket.items]]
  key = "pear"
  category = "pear"
  weight = 0.4
"""


def write(tmp_path: Path, text: str, name: str = "demo.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def broken(tmp_path: Path, old: str, new: str) -> str:
    assert old in DEMO, old
    with pytest.raises(PackError) as info:
        load_pack_file(write(tmp_path, DEMO.replace(old, new, 1)))
    return str(info.value)


# -- the shipped packs ------------------------------------------------------------------------------------


def test_shipped_packs_are_found_and_load():
    assert pack_keys() == SHIPPED
    packs = all_packs()
    assert [p.key for p in packs] == SHIPPED
    for pack in packs:
        assert pack.currency == "CNY"
        assert pack.basket is not None
        assert sum(i.weight for i in pack.basket.items) == Decimal(1)
        assert pack.categories and pack.stages and pack.units and pack.grades
        assert Path(pack.source).parent == BUILTIN_PACK_DIR


@pytest.mark.parametrize("key", SHIPPED)
def test_each_shipped_file_loads_directly(key):
    pack = load_pack_file(BUILTIN_PACK_DIR / f"{key}.toml")
    assert pack.key == key
    assert pack == get_pack(key)


def test_tea_pack_content():
    tea = get_pack("tea")
    assert tea.stage_keys("chain") == (
        "planting",
        "primary_processing",
        "refining",
        "blending_packaging",
        "wholesale",
        "retail",
    )
    assert "inspection" in tea.stage_keys("service")
    assert tea.stage("machinery").supplies == ("primary_processing", "refining")
    assert [g.name_zh for g in tea.grades] == ["特级", "一级", "二级", "三级", "四级"]
    assert tea.grade("premium").standard.startswith("GB/T 30357.2-2013")
    raw = tea.category("raw_tea")
    assert raw.unit == "jin" and raw.stage == "primary_processing"
    assert raw.attributes[0].key == GRADE_ATTRIBUTE and raw.attributes[0].from_grades
    assert raw.attribute("aroma_type").choice_keys() == ("qingxiang", "nongxiang", "chenxiang")
    assert raw.attribute("harvest_year").min == 2000
    assert tea.category("fresh_leaf").attribute("harvest_year").required is False  # override of a shared one
    assert tea.category("finished_tea").attribute("moisture_pct").max == Decimal("10.0")
    assert raw.grades_at_least("grade_1") == ("premium", "grade_1")
    assert tea.unit("jin").factor == Decimal("0.5")


def test_stainless_and_vegetables_content():
    steel = get_pack("stainless")
    grade = steel.category("coil").attribute("steel_grade")
    assert grade.choice("304").name_zh == "S30408（304）"
    assert grade.choice("316L").aliases == ("S31603", "022Cr17Ni12Mo2")
    assert steel.category("coil").attribute("thickness_mm").decimals == 2
    assert set(steel.category("pipe").units) == {"t", "kg", "piece", "m"}
    veg = get_pack("vegetables")
    assert veg.category("chinese_cabbage").standards[0] == "NY/T 943-2006 大白菜等级规格"
    assert veg.category("tomato").grades == ("premium", "grade_1", "grade_2", "ungraded")


def test_lookups_refuse_unknown_keys():
    tea = get_pack("tea")
    with pytest.raises(InvalidInput) as info:
        tea.category("coffee")
    assert info.value.code == "unknown_category"
    for lookup, code in (
        (tea.grade, "unknown_grade"),
        (tea.stage, "unknown_stage"),
        (tea.unit, "unknown_unit"),
    ):
        with pytest.raises(InvalidInput) as info:
            lookup("nope")
        assert info.value.code == code
    with pytest.raises(NotFound) as info:
        get_pack("coffee")
    assert info.value.code == "not_found"


def test_unit_conversion_is_exact_and_refuses_other_dimensions():
    tea = get_pack("tea")
    assert tea.convert("3", "jin", "kg") == Decimal("1.5")
    assert tea.convert(2, "t", "jin") == Decimal("4000")
    assert tea.convert("250", "g", "liang") == Decimal("5")
    assert tea.convert(0.1, "kg", "g") == Decimal("100.0")
    with pytest.raises(InvalidInput) as info:
        tea.convert(1, "box", "kg")
    assert info.value.code == "incompatible_units"


# -- the demo pack and its breakages ----------------------------------------------------------------------


def test_demo_pack_loads(tmp_path):
    pack = load_pack_file(write(tmp_path, DEMO))
    apple = pack.category("apple")
    assert apple.grades == ("premium", "grade_1")  # sorted by rank, whatever the file's order
    assert apple.attribute_keys() == ("grade", "colour", "weight_g", "organic")
    assert apple.attribute("weight_g").min == Decimal("50.0")
    assert pack.category("pear").units == ("box",)
    assert pack.basket.items[0].spec_dict() == {"colour": "red"}
    assert pack.basket.items[1].unit == "box"
    assert pack.stage("testing").supplies == ("trading",)


BREAKAGES = [
    # (old text, new text, expected message)
    (
        '  type = "decimal"',
        '  type = "float"',
        "demo.toml: categories[0].attributes[1].type: unknown type 'float'",
    ),
    (
        'key = "pear"\nname_zh = "梨"',
        'key = "apple"\nname_zh = "梨"',
        "demo.toml: categories[1].key: duplicate category key 'apple' (also at categories[0])",
    ),
    (
        '  choices = [\n    { key = "red", name_zh = "红", name_en = "Red" },\n'
        '    { key = "green", name_zh = "绿", name_en = "Green" },\n  ]\n',
        "",
        "demo.toml: categories[0].attributes[0].choices: an enum attribute needs at least one choice",
    ),
    ('unit = "box"', 'unit = "crate"', "demo.toml: categories[1].unit: unknown unit 'crate'"),
    (
        'units = ["kg", "jin"]',
        'units = ["kg", "liang"]',
        "demo.toml: categories[0].units[1]: unknown unit 'liang'",
    ),
    (
        'grades = ["grade_1", "premium"]',
        'grades = ["grade_1", "grade_9"]',
        "demo.toml: categories[0].grades[1]: unknown grade 'grade_9'",
    ),
    ('stage = "trading"', 'stage = "retail"', "demo.toml: categories[1].stage: unknown stage 'retail'"),
    (
        "min = 50",
        "min = 900",
        "demo.toml: categories[0].attributes[1].min: min 900.0 is greater than max 800.0",
    ),
    ("min = 50", "min = 50.25", "demo.toml: categories[0].attributes[1].min: 50.25 has more than 1 decimals"),
    ("weight = 0.4", "weight = 0.3", "demo.toml: basket.items: weights sum to 0.9, not 1"),
    ('name_en = "Demo"\n', "", "demo.toml: pack.name_en: missing required key"),
    (
        "  required = true",
        "  requried = true",
        "demo.toml: categories[0].attributes[0].requried: unknown key 'requried'",
    ),
    (
        'spec = { colour = "red" }',
        'spec = { colour = "blue" }',
        "demo.toml: basket.items[0].spec.colour: 'blue' is not an allowed value",
    ),
    (
        'spec = { colour = "red" }',
        'spec = { size = "L" }',
        "demo.toml: basket.items[0].spec.size: Unknown attribute",
    ),
    ('key = "demo"', 'key = "other"', "demo.toml: pack.key: 'other' must equal the file name"),
    (
        '  unit = "g"',
        '  unit = "g"\n  max_length = 5',
        "demo.toml: categories[0].attributes[1].max_length: not allowed for type 'decimal'",
    ),
    (
        '  use = "organic"',
        '  use = "organik"',
        "demo.toml: categories[0].attributes[2].use: unknown shared attribute",
    ),
    (
        'dimension = "count"',
        'dimension = "volume"',
        "demo.toml: units[2].dimension: unknown dimension 'volume'",
    ),
    ("factor = 0.5", "factor = 0", "demo.toml: units[1].factor: must be greater than zero"),
    ('supplies = ["trading"]', 'supplies = ["shipping"]', "demo.toml: stages[2].supplies[0]: unknown stage"),
    ("order = 20", "order = 10", "demo.toml: stages[1].order: duplicate order 10"),
    (
        '{ key = "green", name_zh = "绿"',
        '{ key = "green", name_zh = "红"',
        "demo.toml: categories[0].attributes[0].choices[1]: '红' is ambiguous",
    ),
    (
        '  key = "colour"',
        '  key = "grade"',
        "demo.toml: categories[0].attributes[0].key: 'grade' is reserved",
    ),
    ('currency = "CNY"', "currency = 156", "demo.toml: pack.currency: must be a string, not int"),
]


@pytest.mark.parametrize(("old", "new", "expected"), BREAKAGES, ids=[b[2].split(": ")[1] for b in BREAKAGES])
def test_broken_pack_names_file_and_key_path(tmp_path, old, new, expected):
    assert expected in broken(tmp_path, old, new)


def test_pack_error_carries_its_parts(tmp_path):
    with pytest.raises(PackError) as info:
        load_pack_file(write(tmp_path, DEMO.replace('  type = "decimal"', '  type = "float"')))
    assert info.value.key_path == "categories[0].attributes[1].type"
    assert info.value.file == str(tmp_path / "demo.toml")
    assert isinstance(info.value, ValueError)


def test_invalid_toml_and_missing_file(tmp_path):
    with pytest.raises(PackError, match=r"^demo\.toml: invalid TOML"):
        load_pack_file(write(tmp_path, DEMO + "\n[pack\n"))
    with pytest.raises(PackError, match=r"^absent\.toml: cannot read the file"):
        load_pack_file(tmp_path / "absent.toml")


# -- operator pack directories ----------------------------------------------------------------------------


def test_operator_pack_dir_adds_packs(tmp_path):
    write(tmp_path, DEMO)
    with override_settings(CHANLIAN_PACK_DIRS=[str(tmp_path)]):
        assert pack_keys() == ["demo", *SHIPPED]
        assert get_pack("demo").category("apple").name_zh == "苹果"
    # The setting change clears the cache: the operator's pack is gone again.
    with pytest.raises(NotFound):
        get_pack("demo")


def test_operator_pack_may_not_shadow_a_shipped_one(tmp_path):
    write(tmp_path, DEMO.replace('key = "demo"', 'key = "tea"'), name="tea.toml")
    with (
        override_settings(CHANLIAN_PACK_DIRS=[str(tmp_path)]),
        pytest.raises(PackError, match="duplicate pack key 'tea'"),
    ):
        get_pack("tea")


def test_missing_operator_dir_is_reported(tmp_path):
    with (
        override_settings(CHANLIAN_PACK_DIRS=[str(tmp_path / "nowhere")]),
        pytest.raises(PackError, match="does not exist"),
    ):
        all_packs()


def test_a_broken_operator_pack_does_not_hide_the_others(tmp_path):
    write(tmp_path, DEMO.replace('  type = "decimal"', '  type = "float"'))
    with override_settings(CHANLIAN_PACK_DIRS=[str(tmp_path)]):
        assert get_pack("tea").key == "tea"
        with pytest.raises(PackError):
            get_pack("demo")


def test_the_documented_example_pack_loads(tmp_path):
    doc = (Path(__file__).resolve().parents[2] / "docs" / "industry-packs.md").read_text(encoding="utf-8")
    start = doc.index("```toml", doc.index("`packs/apple.toml`:")) + len("```toml")
    pack = load_pack_file(write(tmp_path, doc[start : doc.index("```", start)], name="apple.toml"))
    assert pack.category("fresh_apple").attribute("variety").choice("fuji").aliases == ("红富士",)
    assert pack.basket.items[0].spec_dict()["diameter_mm"] == {"min": "80"}


def test_unit_symbol_is_what_people_write_and_the_key_for_an_unknown_unit():
    tea = get_pack("tea")
    assert tea.unit_symbol("jin") == "斤"
    assert tea.unit_symbol("kg") == "kg"
    assert tea.unit_symbol("no_such_unit") == "no_such_unit"
