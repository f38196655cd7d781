"""The market's pages (listings, demands / RFQs, quotes) through the Django test client: each renders for
the personas who may see it (in Chinese and in English), a rival supplier never sees another's quote (404),
the forms work end to end, bad input shows the service's message and changes nothing, and the list pages
make a constant number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chanlian.trade import services
from chanlian.trade.models import AwardedTerms, Demand, Listing, ListingPhoto, Order, Quote, QuoteRevision
from tests.trade.factories import add_rival, make_demand, make_listing, png, terms

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    """Photos go to a temporary MEDIA_ROOT, never to the developer's var/."""
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def market(world):
    return add_rival(world)


def _quote(world, user="supplier", demand=None, **over):
    demand = demand or make_demand(world)
    return services.submit_quote(world.users[user], demand.pk, **terms(**over))


def _html(response) -> str:
    return response.content.decode()


# ---------------------------------------------------------------- rendering and visibility


def test_anonymous_is_sent_to_login(market):
    from django.test import Client

    for url in ("/trade/market/", "/trade/market/demands/", "/trade/market/mine/"):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize(
    "persona", ["buyer", "supplier", "operator", "rival", "outsider", "nobody", "gov", "admin"]
)
def test_list_pages_render(market, client_as, persona, language):
    listing = make_listing(market, publish=True)
    make_demand(market)
    client = client_as(persona, language=language)
    pages = ("/trade/market/", "/trade/market/demands/", "/trade/market/mine/", "/trade/market/demands/new/")
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert f'<html lang="{language}"' in _html(response)
    html = _html(client.get("/trade/market/"))
    assert listing.title in html and "安溪县祥华茶厂" in html and "165.00" in html and "180.00" in html
    detail = client.get(f"/trade/market/listings/{listing.pk}/")
    assert detail.status_code == 200
    text = _html(detail)
    # The spec with the pack's attribute labels, the tier table, the supplier link.
    label = "Aroma type" if language == "en" else "香型"
    assert label in text and "165.00" in text and f"/enterprises/{listing.supplier_id}/" in text


def test_english_pages_speak_english(market, client_as):
    make_listing(market, publish=True)
    html = _html(client_as("buyer", language="en").get("/trade/market/"))
    assert "Supply listings" in html and "Market" in html and 'href="/trade/orders/"' in html


def test_nav_links_to_market_and_orders(market, client_as):
    html = _html(client_as("buyer").get("/"))
    assert 'href="/trade/market/"' in html and 'href="/trade/orders/"' in html
    html = _html(client_as("buyer").get("/trade/market/demands/"))
    assert '<a href="/trade/market/" aria-current="page">' in html


def test_draft_listing_is_private_to_its_supplier_and_operator(market, client_as):
    draft = make_listing(market)
    url = f"/trade/market/listings/{draft.pk}/"
    for persona in ("buyer", "rival", "outsider", "nobody"):
        assert client_as(persona).get(url).status_code == 404, persona
    for persona in ("supplier", "supplier_viewer", "operator"):
        assert client_as(persona).get(url).status_code == 200, persona
    # Only the supplier's admins and staff get its form.
    assert client_as("supplier_staff").get(url + "edit/").status_code == 200
    assert client_as("supplier_viewer").get(url + "edit/").status_code == 404
    assert client_as("buyer").get(url + "edit/").status_code == 404


def test_browse_shows_published_only(market, client_as):
    draft = make_listing(market, title="草稿茶")
    published = make_listing(market, publish=True, title="上架茶")
    html = _html(client_as("supplier").get("/trade/market/"))
    assert published.title in html and draft.title not in html
    mine = _html(client_as("supplier").get("/trade/market/mine/"))
    assert published.title in mine and draft.title in mine
    assert draft.title not in _html(client_as("rival").get("/trade/market/mine/"))


def test_browse_filters(market, client_as):
    tea = make_listing(market, publish=True, title="清香型毛茶")
    client = client_as("buyer")
    assert tea.title in _html(client.get("/trade/market/?q=清香"))
    assert tea.title not in _html(client.get("/trade/market/?q=不存在的茶"))
    assert tea.title in _html(client.get(f"/trade/market/?cluster={tea.cluster_id}&category=raw_tea"))
    assert tea.title not in _html(client.get(f"/trade/market/?cluster={tea.cluster_id}&category=fresh_leaf"))
    partial = client.get("/trade/market/?q=清香", HTTP_HX_REQUEST="true")
    assert partial.status_code == 200 and "<html" not in _html(partial) and tea.title in _html(partial)


def test_price_calculator(market, client_as):
    listing = make_listing(market, publish=True)
    client = client_as("buyer")
    html = _html(client.get(f"/trade/market/listings/{listing.pk}/price/?quantity=520"))
    assert "85,800.00" in html and "165.00" in html
    html = _html(client.get(f"/trade/market/listings/{listing.pk}/price/?quantity=10"))
    assert "100" in html and "is-bad" in html
    # Without JavaScript: the detail page shows the price of ?quantity=.
    assert "85,800.00" in _html(client.get(f"/trade/market/listings/{listing.pk}/?quantity=520"))


def test_demand_pages_for_each_party(market, client_as):
    demand = make_demand(market)
    quote = _quote(market, demand=demand)
    rival_quote = _quote(market, "rival", demand=demand, unit_price="168.00")
    url = f"/trade/market/demands/{demand.pk}/"
    buyer = _html(client_as("buyer").get(url))
    assert "172.00" in buyer and "168.00" in buyer and "安溪县感德茶厂" in buyer
    supplier = _html(client_as("supplier").get(url))
    assert "172.00" in supplier and "168.00" not in supplier and "安溪县感德茶厂" not in supplier
    admin = _html(client_as("admin").get(url))
    assert "172.00" in admin and "168.00" in admin
    operator = client_as("operator").get(url)
    assert operator.status_code == 200 and "172.00" not in _html(operator) and "168.00" not in _html(operator)
    # A supplier never opens a rival's quote; the operator sees no quote at all.
    assert client_as("supplier").get(f"/trade/market/quotes/{rival_quote.pk}/").status_code == 404
    assert client_as("rival").get(f"/trade/market/quotes/{quote.pk}/").status_code == 404
    assert client_as("operator").get(f"/trade/market/quotes/{quote.pk}/").status_code == 404
    assert client_as("outsider").get(url).status_code == 404
    for persona in ("buyer", "supplier"):
        assert client_as(persona, language="en").get(f"/trade/market/quotes/{quote.pk}/").status_code == 200
    # Nor act on it.
    response = client_as("supplier").post(
        f"/trade/market/quotes/{rival_quote.pk}/withdraw/", {f"w{rival_quote.pk}-reason": ""}
    )
    assert response.status_code == 404
    assert Quote.objects.get(pk=rival_quote.pk).status == "open"


def test_supplier_sees_quote_form_on_open_demand(market, client_as):
    demand = make_demand(market)
    html = _html(client_as("supplier").get(f"/trade/market/demands/{demand.pk}/"))
    assert f"/trade/market/demands/{demand.pk}/quote/" in html
    assert f"/trade/market/demands/{demand.pk}/quote/" not in _html(
        client_as("buyer").get(f"/trade/market/demands/{demand.pk}/")
    )


# ---------------------------------------------------------------- end to end


def _listing_form(world, **over):
    data = {
        "cluster": str(world.clusters["tea"].pk),
        "category": "raw_tea",
        "spec__grade": "grade_1",
        "spec__aroma_type": "qingxiang",
        "spec__harvest_season": "autumn",
        "spec__harvest_year": "2025",
        "spec__moisture_pct": "6.5",
        "spec__organic": "true",
        "title": "2025秋茶 清香型铁观音毛茶",
        "description": "高山茶园",
        "unit": "kg",
        "moq": "100",
        "available_quantity": "2000",
        "lead_time_days": "7",
        "origin": "350524 福建省泉州市安溪县",
        "tier_0_min": "100",
        "tier_0_price": "180.00",
        "tier_1_min": "500",
        "tier_1_price": "165.00",
    }
    data.update(over)
    return data


def test_create_listing_publish_and_buy(market, client_as):
    supplier = client_as("supplier")
    tea = market.clusters["tea"]
    form_page = supplier.get(f"/trade/market/listings/new/?cluster={tea.pk}&category=raw_tea")
    assert form_page.status_code == 200 and 'name="spec__aroma_type"' in _html(form_page)
    # The only cluster the supplier sells in is chosen for it.
    assert f'<option value="{tea.pk}" selected>' in _html(supplier.get("/trade/market/listings/new/"))
    response = supplier.post("/trade/market/listings/new/", _listing_form(market))
    assert response.status_code == 302, _html(response)
    listing = Listing.objects.get(title="2025秋茶 清香型铁观音毛茶")
    assert response["Location"] == f"/trade/market/listings/{listing.pk}/edit/"
    assert listing.status == "draft"
    assert listing.spec["moisture_pct"] == "6.5" and listing.spec["organic"] is True
    assert [(str(t.min_quantity), str(t.unit_price)) for t in listing.tiers.all()] == [
        ("100.000", "180.00"),
        ("500.000", "165.00"),
    ]
    # Photos while a draft.
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("leaf.png", png(), content_type="image/png")
    response = supplier.post(f"/trade/market/listings/{listing.pk}/photos/", {"file": upload}, follow=True)
    assert ListingPhoto.objects.filter(listing=listing).count() == 1
    photo = ListingPhoto.objects.get(listing=listing)
    assert f"/trade/photos/{photo.pk}/" in _html(response)
    response = supplier.post(f"/trade/market/listings/{listing.pk}/publish/", {"back": "edit"}, follow=True)
    listing.refresh_from_db()
    assert listing.status == "published"
    # The buyer finds it and buys.
    buyer = client_as("buyer")
    assert listing.title in _html(buyer.get("/trade/market/"))
    assert f"/trade/photos/{photo.pk}/" in _html(buyer.get(f"/trade/market/listings/{listing.pk}/"))
    response = buyer.post(
        f"/trade/market/listings/{listing.pk}/buy/",
        {"quantity": "520", "delivery_region": "310115", "payment_terms": "escrow", "delivery_date": ""},
    )
    assert response.status_code == 302, _html(response)
    order = Order.objects.get(listing=listing)
    assert response["Location"] == f"/trade/orders/{order.pk}/"
    assert order.quantity == 520 and str(order.amount) == "85800.00"


def test_edit_listing_while_paused(market, client_as):
    listing = make_listing(market, publish=True)
    supplier = client_as("supplier")
    page = _html(supplier.get(f"/trade/market/listings/{listing.pk}/edit/"))
    assert "disabled" in page  # published: pause to edit
    supplier.post(f"/trade/market/listings/{listing.pk}/pause/", {"back": "edit"})
    data = _listing_form(market, title="改过的标题", tier_1_price="160.00")
    data.pop("cluster")
    response = supplier.post(f"/trade/market/listings/{listing.pk}/edit/", data)
    assert response.status_code == 302, _html(response)
    listing.refresh_from_db()
    assert listing.title == "改过的标题"
    assert [str(t.unit_price) for t in listing.tiers.all()] == ["180.00", "160.00"]
    # The form is pre-filled with the listing's spec and tiers.
    page = _html(supplier.get(f"/trade/market/listings/{listing.pk}/edit/"))
    assert 'value="160.00"' in page and 'value="qingxiang" selected' in page


def test_post_demand_quote_counter_award_and_order(market, client_as):
    tea = market.clusters["tea"]
    buyer = client_as("buyer")
    now = timezone.localtime()
    page = buyer.get(f"/trade/market/demands/new/?cluster={tea.pk}&category=raw_tea")
    assert 'name="spec__moisture_pct__max"' in _html(page) and 'name="spec__grade"' in _html(page)
    response = buyer.post(
        "/trade/market/demands/new/",
        {
            "cluster": str(tea.pk),
            "category": "raw_tea",
            "spec__grade": ["premium", "grade_1"],
            "spec__aroma_type": ["qingxiang"],
            "spec__moisture_pct__max": "7.5",
            "spec__harvest_year__min": "2025",
            "spec__harvest_year__max": "2025",
            "title": "求购清香型毛茶",
            "quantity": "1000",
            "unit": "kg",
            "target_unit_price": "170.00",
            "delivery_region": "310115",
            "needed_by": (now + timedelta(days=30)).date().isoformat(),
            "quote_deadline": (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"),
            "visibility": "open",
        },
    )
    assert response.status_code == 302, _html(response)
    demand = Demand.objects.get(title="求购清香型毛茶")
    assert demand.spec == {
        "grade": ["premium", "grade_1"],
        "aroma_type": ["qingxiang"],
        "harvest_year": 2025,
        "moisture_pct": {"max": "7.5"},
    }
    # The supplier quotes.
    supplier = client_as("supplier")
    today = timezone.localdate()
    response = supplier.post(
        f"/trade/market/demands/{demand.pk}/quote/",
        {
            "quote-unit_price": "175.00",
            "quote-quantity": "600",
            "quote-delivery_date": (today + timedelta(days=20)).isoformat(),
            "quote-valid_until": (today + timedelta(days=14)).isoformat(),
            "quote-payment_terms": "escrow",
            "quote-note": "可分批发货",
        },
    )
    assert response.status_code == 302, _html(response)
    quote = Quote.objects.get(demand=demand)
    assert response["Location"] == f"/trade/market/quotes/{quote.pk}/"
    # The buyer counters from the demand page.
    p = f"c{quote.pk}-"
    response = buyer.post(
        f"/trade/market/quotes/{quote.pk}/counter/",
        {
            "back": "demand",
            p + "unit_price": "168.00",
            p + "quantity": "600",
            p + "delivery_date": (today + timedelta(days=20)).isoformat(),
            p + "valid_until": (today + timedelta(days=14)).isoformat(),
            p + "payment_terms": "escrow",
        },
    )
    assert response.status_code == 302, _html(response)
    assert QuoteRevision.objects.filter(quote=quote).count() == 2
    # The supplier answers; the thread carries messages.
    url = f"/trade/market/quotes/{quote.pk}/"
    response = supplier.post(url + "revise/", {f"r{quote.pk}-unit_price": "170.00"})
    assert response.status_code == 302, _html(response)
    response = supplier.post(url + "messages/", {f"m{quote.pk}-body": "170 是底价"})
    assert response.status_code == 302
    page = _html(buyer.get(f"/trade/market/quotes/{quote.pk}/"))
    assert "170 是底价" in page and "168.00" in page and "170.00" in page
    # The buyer awards part of it, then places the order.
    response = buyer.post(
        f"/trade/market/quotes/{quote.pk}/award/", {"back": "demand", f"a{quote.pk}-quantity": "500"}
    )
    assert response.status_code == 302, _html(response)
    award = AwardedTerms.objects.get(quote=quote)
    assert award.quantity == 500 and str(award.total) == "85000.00"
    page = _html(buyer.get(f"/trade/market/demands/{demand.pk}/"))
    assert f"/trade/market/awards/{award.pk}/order/" in page
    response = buyer.post(f"/trade/market/awards/{award.pk}/order/")
    order = Order.objects.get(award=award)
    assert response.status_code == 302 and response["Location"] == f"/trade/orders/{order.pk}/"
    assert f"/trade/orders/{order.pk}/" in _html(buyer.get(f"/trade/market/demands/{demand.pk}/"))


def test_supplier_withdraws_and_buyer_declines(market, client_as):
    demand = make_demand(market)
    quote = _quote(market, demand=demand)
    rival_quote = _quote(market, "rival", demand=demand)
    response = client_as("supplier").post(
        f"/trade/market/quotes/{quote.pk}/withdraw/", {f"w{quote.pk}-reason": "库存不足"}
    )
    assert response.status_code == 302
    response = client_as("buyer").post(
        f"/trade/market/quotes/{rival_quote.pk}/decline/",
        {"back": "demand", f"d{rival_quote.pk}-reason": "价高"},
    )
    assert response.status_code == 302
    assert Quote.objects.get(pk=quote.pk).status == "withdrawn"
    assert Quote.objects.get(pk=rival_quote.pk).status == "declined"


def test_operator_takes_a_listing_down_with_a_reason(market, client_as):
    listing = make_listing(market, publish=True)
    operator = client_as("operator", language="en")
    assert "take-down" in _html(operator.get(f"/trade/market/listings/{listing.pk}/"))
    response = operator.post(f"/trade/market/listings/{listing.pk}/take-down/", {"reason": ""})
    assert response.status_code == 400 and "Reason is required." in _html(response)
    listing.refresh_from_db()
    assert listing.status == "published"
    operator.post(f"/trade/market/listings/{listing.pk}/take-down/", {"reason": "虚假宣传"})
    listing.refresh_from_db()
    assert listing.status == "taken_down" and listing.status_reason == "虚假宣传"
    # Another cluster's operator cannot.
    other = make_listing(market, publish=True)
    steel = client_as("steel_operator")
    response = steel.post(f"/trade/market/listings/{other.pk}/take-down/", {"reason": "x"})
    assert response.status_code == 403
    assert Listing.objects.get(pk=other.pk).status == "published"


# ---------------------------------------------------------------- bad input changes nothing


def test_bad_listing_shows_the_service_message(market, client_as):
    supplier = client_as("supplier", language="en")
    before = Listing.objects.count()
    response = supplier.post("/trade/market/listings/new/", _listing_form(market, tier_1_min="50"))
    assert response.status_code == 400
    assert "strictly ascending" in _html(response) and "Nothing was saved." in _html(response)
    response = supplier.post("/trade/market/listings/new/", _listing_form(market, spec__moisture_pct="99"))
    assert response.status_code == 400 and "above the maximum" in _html(response)
    response = supplier.post("/trade/market/listings/new/", _listing_form(market, origin="999999"))
    assert response.status_code == 400
    assert Listing.objects.count() == before
    # A buyer is not a verified member of the cluster.
    outsider = client_as("rival_buyer", language="en")
    response = outsider.post("/trade/market/listings/new/", _listing_form(market))
    assert response.status_code in (400, 403) and Listing.objects.count() == before


def test_bad_buy_shows_the_service_message(market, client_as):
    listing = make_listing(market, publish=True)
    buyer = client_as("buyer", language="en")
    response = buyer.post(
        f"/trade/market/listings/{listing.pk}/buy/",
        {"quantity": "10", "delivery_region": "310115", "payment_terms": "escrow"},
    )
    assert response.status_code == 400 and "minimum order quantity is 100" in _html(response)
    response = buyer.post(
        f"/trade/market/listings/{listing.pk}/buy/",
        {"quantity": "200", "delivery_region": "abc", "payment_terms": "escrow"},
    )
    assert response.status_code == 400 and "No order was placed." in _html(response)
    # The supplier cannot buy its own listing (no buy form; a forged post is refused).
    assert "/buy/" not in _html(client_as("supplier").get(f"/trade/market/listings/{listing.pk}/"))
    response = client_as("supplier", language="en").post(
        f"/trade/market/listings/{listing.pk}/buy/",
        {"quantity": "200", "delivery_region": "310115", "payment_terms": "escrow"},
    )
    assert response.status_code in (400, 403, 409)
    assert not Order.objects.exists()


def test_bad_demand_and_counter_show_the_service_message(market, client_as):
    tea = market.clusters["tea"]
    buyer = client_as("buyer", language="en")
    response = buyer.post(
        "/trade/market/demands/new/",
        {
            "cluster": str(tea.pk),
            "category": "raw_tea",
            "quantity": "1000",
            "delivery_region": "310115",
            "needed_by": timezone.localdate().isoformat(),
            "quote_deadline": "2020-01-01T10:00",
            "visibility": "open",
        },
    )
    assert response.status_code == 400 and "must be in the future" in _html(response)
    assert not Demand.objects.exists()
    demand = make_demand(market)
    quote = _quote(market, demand=demand)
    response = buyer.post(f"/trade/market/quotes/{quote.pk}/counter/", {"back": "demand"})
    assert response.status_code == 400 and "must change at least one term" in _html(response)
    response = buyer.post(f"/trade/market/quotes/{quote.pk}/award/", {f"a{quote.pk}-quantity": "5000"})
    assert response.status_code == 400 and "more than the quoted quantity" in _html(response)
    assert QuoteRevision.objects.filter(quote=quote).count() == 1 and not AwardedTerms.objects.exists()
    # The supplier cannot counter (a buyer's move): 403 on the page, nothing written.
    response = client_as("supplier").post(
        f"/trade/market/quotes/{quote.pk}/counter/", {f"c{quote.pk}-unit_price": "1.00"}
    )
    assert response.status_code == 403 and QuoteRevision.objects.filter(quote=quote).count() == 1


def test_bad_photo_is_refused(market, client_as):
    from django.core.files.uploadedfile import SimpleUploadedFile

    listing = make_listing(market)
    fake = SimpleUploadedFile("x.png", b"not an image at all", content_type="image/png")
    response = client_as("supplier", language="en").post(
        f"/trade/market/listings/{listing.pk}/photos/", {"file": fake}, follow=True
    )
    assert "not a JPEG, PNG or WebP image" in _html(response)
    assert not ListingPhoto.objects.exists()


def test_empty_message_is_refused(market, client_as):
    quote = _quote(market)
    response = client_as("buyer", language="en").post(
        f"/trade/market/quotes/{quote.pk}/messages/", {f"m{quote.pk}-body": "  "}
    )
    assert response.status_code == 400 and "Message is required." in _html(response)


# ---------------------------------------------------------------- queries


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_list_pages_make_a_constant_number_of_queries(market, client_as):
    from django.core.files.base import ContentFile

    def more(n):
        for i in range(n):
            listing = make_listing(market, title=f"毛茶 {i}")
            services.add_listing_photo(market.users["supplier"], listing.pk, ContentFile(png(), name="a.png"))
            services.publish_listing(market.users["supplier"], listing.pk)
            demand = make_demand(market, title=f"求购 {i}")
            services.submit_quote(market.users["supplier"], demand.pk, **terms())

    more(2)
    urls = ("/trade/market/", "/trade/market/mine/", "/trade/market/demands/")
    counts = {}
    for persona in ("buyer", "supplier"):
        client = client_as(persona)
        for url in urls:
            _count(client, url)  # warm the caches (packs, sessions)
            counts[(persona, url)] = _count(client, url)
    more(5)
    for persona in ("buyer", "supplier"):
        client = client_as(persona)
        for url in urls:
            assert _count(client, url) == counts[(persona, url)], (persona, url)


def test_a_viewer_reads_but_cannot_act(market, client_as):
    listing = make_listing(market)
    viewer = client_as("supplier_viewer", language="en")
    page = _html(viewer.get(f"/trade/market/listings/{listing.pk}/"))
    assert f"/trade/market/listings/{listing.pk}/publish/" not in page
    response = viewer.post(f"/trade/market/listings/{listing.pk}/publish/", follow=True)
    assert response.status_code == 200
    assert Listing.objects.get(pk=listing.pk).status == "draft"


def test_thread_posts_through_htmx(market, client_as):
    quote = _quote(market)
    response = client_as("buyer").post(
        f"/trade/market/quotes/{quote.pk}/messages/",
        {f"m{quote.pk}-body": "能否提供样品？"},
        HTTP_HX_REQUEST="true",
    )
    html = _html(response)
    assert (
        response.status_code == 200
        and "<html" not in html
        and 'id="thread"' in html
        and "能否提供样品？" in html
    )
    # The supplier reads it beside its quote on the demand page; a rival does not.
    assert "能否提供样品？" in _html(client_as("supplier").get(f"/trade/market/demands/{quote.demand_id}/"))
    assert "能否提供样品？" not in _html(client_as("rival").get(f"/trade/market/demands/{quote.demand_id}/"))


def test_buy_form_starts_with_the_buyers_county(market, client_as):
    listing = make_listing(market, publish=True)
    html = _html(client_as("buyer").get(f"/trade/market/listings/{listing.pk}/"))
    assert 'value="310115 ' in html


def test_without_javascript_the_category_refreshes_the_form(market, client_as):
    tea = market.clusters["tea"]
    response = client_as("supplier").post(
        "/trade/market/listings/new/",
        {"cluster": str(tea.pk), "category": "tea_machinery", "title": "摇青机", "refresh": "1"},
    )
    html = _html(response)
    assert response.status_code == 200 and 'name="spec__machine_type"' in html and 'value="摇青机"' in html
    assert not Listing.objects.exists()
    response = client_as("buyer").post(
        "/trade/market/demands/new/", {"cluster": str(tea.pk), "category": "fresh_leaf", "refresh": "1"}
    )
    assert 'name="spec__cultivar"' in _html(response) and not Demand.objects.exists()
