"""The shipped data, as migration 0002 loaded it into the test database."""

from decimal import Decimal

import pytest

from chanlian.regions.choices import RegionLevel
from chanlian.regions.loader import level_for_code
from chanlian.regions.models import Region

pytestmark = pytest.mark.django_db


def test_counts():
    assert Region.objects.count() == 3213
    assert Region.objects.filter(level=RegionLevel.COUNTY).count() == 2846
    assert Region.objects.filter(level=RegionLevel.PREFECTURE).count() == 333
    assert Region.objects.filter(level=RegionLevel.PROVINCE).count() == 34


def test_anxi_hierarchy_and_centroid():
    anxi = Region.objects.get(code="350524")
    assert (anxi.name, anxi.level, str(anxi)) == ("安溪县", RegionLevel.COUNTY, "安溪县")
    assert anxi.full_name == "福建省泉州市安溪县"
    assert (anxi.parent.code, anxi.parent.name, anxi.parent.level) == ("350500", "泉州市", "prefecture")
    assert (anxi.parent.parent.code, anxi.parent.parent.name) == ("350000", "福建省")
    assert anxi.parent.parent.parent is None
    # centroids-2016.csv: 350524,安溪县,county,118.186288,25.055954
    assert (anxi.lon, anxi.lat) == (Decimal("118.186288"), Decimal("25.055954"))
    assert not anxi.centroid_inherited


@pytest.mark.parametrize(
    ("code", "parent", "full_name"),
    [
        ("110101", "110000", "北京市东城区"),  # municipality district: no 110100 row
        ("500101", "500000", "重庆市万州区"),
        ("500229", "500000", "重庆市城口县"),  # 5002xx counties of Chongqing
        ("419001", "410000", "河南省济源市"),  # 省直辖县级行政区划
        ("429021", "420000", "湖北省神农架林区"),
        ("469021", "460000", "海南省定安县"),
        ("659001", "650000", "新疆维吾尔自治区石河子市"),
        ("441900", "440000", "广东省东莞市"),  # prefecture-level city without counties
    ],
)
def test_special_hierarchy(code, parent, full_name):
    region = Region.objects.get(code=code)
    assert region.parent_id == parent
    assert region.full_name == full_name


def test_levels_follow_code_shape():
    assert level_for_code("350000") == RegionLevel.PROVINCE
    assert level_for_code("350500") == RegionLevel.PREFECTURE
    assert level_for_code("110101") == RegionLevel.COUNTY
    assert level_for_code("419001") == RegionLevel.COUNTY
    assert Region.objects.get(code="419001").level == RegionLevel.COUNTY
    # Every prefecture hangs off a province, every county off a prefecture or a province.
    assert not Region.objects.filter(level="prefecture").exclude(parent__level="province").exists()
    assert (
        not Region.objects.filter(level="county")
        .exclude(parent__level__in=["prefecture", "province"])
        .exists()
    )
    assert not Region.objects.filter(level="province", parent__isnull=False).exists()


def test_county_without_own_centroid_inherits_parents():
    changle = Region.objects.get(code="350112")  # 长乐区, created 2017, not in the 2016 centroids
    fuzhou = Region.objects.get(code="350100")
    assert changle.centroid_inherited and not fuzhou.centroid_inherited
    assert (changle.lon, changle.lat) == (fuzhou.lon, fuzhou.lat)


def test_inheritance_is_recursive():
    # 那曲市 (2017) and its counties are all new codes: they end up with the Tibet centroid.
    tibet, nagqu, lhari = (Region.objects.get(code=c) for c in ("540000", "540600", "540621"))
    assert nagqu.centroid_inherited and lhari.centroid_inherited
    assert (lhari.lon, lhari.lat) == (nagqu.lon, nagqu.lat) == (tibet.lon, tibet.lat)


def test_every_region_has_a_centroid_and_few_inherit():
    assert not Region.objects.filter(lon__isnull=True).exists()
    assert Region.objects.filter(centroid_inherited=True).count() == 140
    # A centroid in the CSV with empty coordinates is treated as missing (320812 清江浦区).
    assert Region.objects.get(code="320812").centroid_inherited


def test_distance_km():
    anxi, dongcheng = Region.objects.get(code="350524"), Region.objects.get(code="110101")
    d = anxi.distance_km(dongcheng)
    assert 1640 < d < 1690  # ≈ 1,662 km
    assert d == pytest.approx(dongcheng.distance_km(anxi))
    assert anxi.distance_km(anxi) == 0.0
    assert anxi.distance_km(Region(code="999999", name="x")) is None
