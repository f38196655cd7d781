from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from chanlian.regions import loader
from chanlian.regions.models import Region

pytestmark = pytest.mark.django_db


def test_rerun_changes_nothing():
    result = loader.load_regions()
    assert (result.total, result.created, result.updated, result.unchanged) == (3213, 0, 0, 3213)
    assert result.stale == []


def test_rerun_repairs_and_reports():
    Region.objects.filter(code="350524").update(name="X", lon=None, full_name="X")
    Region.objects.create(code="999901", name="Gone", level="county", full_name="Gone")
    out = StringIO()
    result = loader.load_regions(stdout=out)
    assert (result.created, result.updated) == (0, 1)
    assert result.stale == ["999901"]
    assert "999901" in out.getvalue()
    anxi = Region.objects.get(code="350524")
    assert (anxi.name, anxi.full_name, anxi.lon) == ("安溪县", "福建省泉州市安溪县", Decimal("118.186288"))


def test_unload_then_load_via_command():
    loader.unload_regions(Region)
    assert Region.objects.count() == 0
    out = StringIO()
    call_command("load_regions", stdout=out)
    assert "3213 created" in out.getvalue()
    assert Region.objects.count() == 3213
    assert Region.objects.get(code="350524").parent_id == "350500"


def test_build_rows_parents_first():
    rows = loader.build_rows()
    seen = set()
    for row in rows:
        assert row.parent_code is None or row.parent_code in seen
        seen.add(row.code)


def _write(tmp_path, divisions, centroids="code,name,level,lon_gcj02,lat_gcj02\n"):
    (tmp_path / "d.txt").write_text(divisions, encoding="utf-8")
    (tmp_path / "c.csv").write_text(centroids, encoding="utf-8")
    return tmp_path / "d.txt", tmp_path / "c.csv"


def test_bad_lines_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"d\.txt:2"):
        loader.build_rows(*_write(tmp_path, "350000 福建省\n35050 泉州市\n"))
    with pytest.raises(ValueError, match="duplicate"):
        loader.build_rows(*_write(tmp_path, "350000 福建省\n350000 福建省\n"))
    with pytest.raises(ValueError, match="no parent row 350000"):
        loader.build_rows(*_write(tmp_path, "350500 泉州市\n"))
    with pytest.raises(ValueError, match="bad coordinate"):
        loader.build_rows(
            *_write(tmp_path, "350000 福建省\n", "code,name,level,lon_gcj02,lat_gcj02\n350000,x,p,abc,1\n")
        )


def test_region_without_any_centroid(tmp_path):
    rows = loader.build_rows(*_write(tmp_path, "350000 福建省\n350500 泉州市\n350524 安溪县\n"))
    assert [(r.code, r.full_name, r.lon, r.centroid_inherited) for r in rows] == [
        ("350000", "福建省", None, False),
        ("350500", "福建省泉州市", None, False),
        ("350524", "福建省泉州市安溪县", None, False),
    ]
