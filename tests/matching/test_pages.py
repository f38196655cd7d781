"""The matching pages: search with the pack's generated filters (htmx swaps the results), the ranked
matches beside a demand and beside a listing, 404 for whoever may not see them."""

import pytest
from django.conf import settings

from chanlian.trade import services
from tests.matching.helpers import coil_listing, demand, tea_listing
from tests.matching.test_matches import GOOD

pytestmark = pytest.mark.django_db


@pytest.fixture
def page(client, market):
    def get(persona, url, lang="en", **headers):
        client.force_login(market.users[persona])
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = lang  # what the language switch sets
        return client.get(url, **headers)

    return get


def test_search_page_generates_filters_from_the_pack(page, market):
    tea_listing(market, spec=GOOD)
    coil_listing(market)
    r = page("buyer", f"/matching/search/?cluster={market.clusters['tea'].pk}&category=raw_tea&q=铁观")
    assert r.status_code == 200
    html = r.content.decode()
    assert 'name="spec.aroma_type" value="qingxiang"' in html  # enum → checkboxes
    assert 'name="spec.harvest_year.min"' in html  # integer → a range
    assert 'name="spec.organic"' in html  # boolean → yes/no/any
    assert "2025秋茶 清香型铁观音毛茶 一级" in html
    assert "304冷轧不锈钢卷" not in html
    steel = page("buyer", "/matching/search/?pack=stainless&category=coil").content.decode()
    assert 'name="spec.thickness_mm.min"' in steel and "(mm)" in steel


def test_search_page_htmx_returns_only_the_results(page, market):
    tea_listing(market, spec=GOOD)
    r = page("buyer", "/matching/search/?q=不锈", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results")
    html = r.content.decode()
    assert r.status_code == 200 and "<html" not in html and "No published listing matches" in html
    assert "Vary" in r and "HX-Request" in r["Vary"]
    whole = page("buyer", "/matching/search/?pack=tea", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="search-page")
    assert "<html" in whole.content.decode()


def test_search_page_shows_a_bad_filter_with_400(page, market):
    r = page("buyer", "/matching/search/?pack=tea&category=raw_tea&spec.aroma_type=绿茶")
    assert r.status_code == 400
    assert "alert-bad" in r.content.decode()


def test_search_page_needs_sign_in(client):
    r = client.get("/matching/search/")
    assert r.status_code == 302 and "login" in r["Location"]


def test_demand_page_shows_each_component(page, market):
    listing = tea_listing(market, spec=GOOD)
    tea_listing(market, "rival", spec=GOOD, tiers=[{"min_quantity": "100", "unit_price": "200.00"}])
    d = demand(market)
    r = page("buyer", f"/matching/demands/{d.pk}/")
    assert r.status_code == 200
    html = r.content.decode()
    for label in (
        "Specification fit",
        "Price",
        "Distance",
        "Quantity available",
        "Lead time",
        "Supplier record",
    ):
        assert label in html
    assert f'data-listing="{listing.pk}"' in html
    assert html.index(f'data-listing="{listing.pk}"') < html.index("200.00")  # the better match first
    assert "at or below your target 170.00" in html
    assert page("operator", f"/matching/demands/{d.pk}/").status_code == 200
    zh = page("buyer", f"/matching/demands/{d.pk}/", lang="zh-hans")
    assert zh.status_code == 200 and 'lang="zh-hans"' in zh.content.decode()


@pytest.mark.parametrize("persona", ["rival_buyer", "supplier", "steel_operator", "nobody"])
def test_demand_page_is_404_for_others(page, market, persona):
    d = demand(market)
    assert page(persona, f"/matching/demands/{d.pk}/").status_code == 404


def test_listing_page_for_its_supplier_only(page, market):
    listing = tea_listing(market, spec=GOOD)
    d = demand(market)
    r = page("supplier", f"/matching/listings/{listing.pk}/")
    assert r.status_code == 200 and f'data-demand="{d.pk}"' in r.content.decode()
    services.close_demand(market.users["buyer"], d.pk)
    assert (
        f'data-demand="{d.pk}"' not in page("supplier", f"/matching/listings/{listing.pk}/").content.decode()
    )
    for persona in ("buyer", "rival", "operator"):
        assert page(persona, f"/matching/listings/{listing.pk}/").status_code == 404


def test_changing_the_category_drops_the_old_spec_filters(page, market):
    tea = market.clusters["tea"].pk
    url = f"/matching/search/?cluster={tea}&category=finished_tea&spec.process_style=zhengwei&q="
    r = page(
        "buyer", url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="search-page", HTTP_HX_TRIGGER_NAME="category"
    )
    assert r.status_code == 200  # process_style is not a filter of finished_tea: dropped, not refused
    assert r["HX-Push-Url"] == f"/matching/search/?cluster={market.clusters['tea'].pk}&category=finished_tea"
    r = page("buyer", url + "&pack=tea", HTTP_HX_REQUEST="true", HTTP_HX_TRIGGER_NAME="cluster")
    assert r["HX-Push-Url"] == f"/matching/search/?cluster={market.clusters['tea'].pk}"
    assert page("buyer", url).status_code == 400  # typed by hand, the same address is an error


def test_search_page_cluster_select_lists_visible_clusters_escaped_and_marks_the_chosen(page, market):
    tea, steel = market.clusters["tea"], market.clusters["steel"]
    type(steel).objects.filter(pk=steel.pk).update(name='戴南<不锈钢> & "集群"')
    html = page("buyer", f"/matching/search/?cluster={tea.pk}").content.decode()
    assert f'<option value="{tea.pk}" selected>{tea.name}</option>' in html
    assert f'<option value="{steel.pk}">戴南&lt;不锈钢&gt; &amp; &quot;集群&quot;</option>' in html
    html = page("buyer", "/matching/search/").content.decode()
    assert " selected>" + tea.name not in html
