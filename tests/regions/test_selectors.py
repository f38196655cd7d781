import pytest

from chanlian.core.errors import InvalidInput
from chanlian.core.permissions import restrict
from chanlian.regions.models import Region
from chanlian.regions.selectors import county_choices, get_region

pytestmark = pytest.mark.django_db


def test_get_region():
    assert get_region("350524").name == "安溪县"
    assert get_region(" 350524 ").code == "350524"
    assert get_region(350524).code == "350524"


@pytest.mark.parametrize("bad", ["abc", "999999", "", None, "35052", "3505245", True, "350524\n1"])
def test_get_region_refuses_unknown_or_malformed(bad):
    with pytest.raises(InvalidInput) as exc:
        get_region(bad)
    assert exc.value.code == "unknown_region"
    assert exc.value.status == 400


def test_county_choices():
    assert county_choices("安溪") == [("350524", "福建省泉州市安溪县")]
    assert county_choices("泉州市", limit=None) == [
        (r.code, r.full_name) for r in Region.objects.filter(parent_id="350500")
    ]
    assert len(county_choices("")) == 20
    assert len(county_choices("", limit=None)) == 2846
    assert county_choices("福建省") and all(code.startswith("35") for code, _ in county_choices("福建省"))
    assert county_choices("nothing-like-this") == []


def test_policy_view_only(django_user_model):
    user = django_user_model.objects.create_user("viewer", password="pw-viewer-123")
    assert restrict(Region, user, "view").count() == 3213
    assert not restrict(Region, user, "change").exists()
