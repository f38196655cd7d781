"""The lending API's answers to everyone else and to bad input: {code, detail}, 404 for what is not
yours, the consent package only while the consent is active, maker ≠ checker."""

import datetime as dt

import pytest
from django.utils import timezone

from tests.finance.test_lending_steps import approved, later, lending_world

pytestmark = pytest.mark.django_db


def _code(response, status, code):
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response.json()["code"] == code, response.json()
    assert response.json()["detail"]


def test_consent_package_404_then_package_then_404_after_revoke(world, api):
    lw = lending_world(world)
    url = f"/api/v1/finance/consents/{lw.consent.pk}/package/"
    for name in ("supplier", "buyer", "operator", "gov", "outsider", "nobody"):
        _code(api(name).get(url), 404, "not_found")
    assert api(None).get(url).status_code in (401, 403)
    package = api("lender").get(url).json()
    assert package["scope"] == ["asset", "fulfilment", "orders", "risk"]
    assert "orders" in package and "fulfilment" in package
    # the risk report as the report renders itself: every factor labelled, with its no-data flag
    factors = package["risk"]["factors"]
    assert factors and all(
        f["label"] and "no_data" in f and f["rating"] in (None, "good", "watch", "bad") for f in factors
    )
    # the granting enterprise reads its consent, the lender too, nobody else
    assert api("rival").get(f"/api/v1/finance/consents/{lw.consent.pk}/").json()["active"] is True
    _code(api("supplier").get(f"/api/v1/finance/consents/{lw.consent.pk}/"), 404, "not_found")
    _code(api("lender").post(f"/api/v1/finance/consents/{lw.consent.pk}/revoke/"), 404, "not_found")
    r = api("rival").post(f"/api/v1/finance/consents/{lw.consent.pk}/revoke/")
    assert r.status_code == 200 and r.json()["active"] is False
    _code(api("lender").get(url), 404, "not_found")
    _code(api("rival").post(f"/api/v1/finance/consents/{lw.consent.pk}/revoke/"), 409, "consent_revoked")
    assert [c["id"] for c in api("lender").get("/api/v1/finance/consents/?role=received").json()] == [
        lw.consent.pk
    ]


def test_package_404_after_expiry(world, api):
    lw = lending_world(world)
    url = f"/api/v1/finance/consents/{lw.consent.pk}/package/"
    assert api("lender").get(url).status_code == 200
    with later(91):
        _code(api("lender").get(url), 404, "not_found")


def test_bad_input_codes(world, api):
    lw = lending_world(world)
    tea = world.clusters["tea"].pk
    lender = api("lender")
    base = {
        "lender": lw.lender.pk,
        "name": "x",
        "kind": "discount",
        "day_count": "act_360",
        "annual_rate": "0.05",
        "max_tenor_days": 90,
        "min_amount": "100.00",
        "max_amount": "200.00",
        "clusters": [tea],
    }
    for over, code in (
        ({"annual_rate": "5%"}, "invalid_rate"),
        ({"annual_rate": "0.9"}, "invalid_rate"),
        ({"fee_rate": "-0.01"}, "invalid_rate"),
        ({"kind": "loan"}, "invalid_choice"),
        ({"day_count": "30_360"}, "invalid_choice"),
        ({"max_tenor_days": 0}, "invalid_number"),
        ({"min_amount": "1.001"}, "too_many_decimals"),
        ({"min_amount": "300.00"}, "invalid_range"),
        ({"clusters": [world.clusters["steel"].pk]}, "not_served_cluster"),
    ):
        _code(lender.post("/api/v1/finance/products/", {**base, **over}, format="json"), 400, code)
    line = {"lender": lw.lender.pk, "enterprise": world.enterprises["buyer"].pk, "limit": "1000.00"}
    _code(
        lender.post("/api/v1/finance/credit-lines/", {**line, "expires_on": "2020-01-01"}, format="json"),
        400,
        "invalid_date",
    )
    _code(
        lender.post("/api/v1/finance/credit-lines/", {**line, "expires_on": "tomorrow"}, format="json"),
        400,
        "invalid_date",
    )
    _code(
        lender.post(
            "/api/v1/finance/credit-lines/",
            {**line, "enterprise": world.enterprises["gov"].pk, "expires_on": str(timezone.localdate())},
            format="json",
        ),
        400,
        "invalid_enterprise",
    )
    consent = {
        "enterprise": lw.rival.pk,
        "lender": lw.lender.pk,
        "cluster": tea,
        "scope": ["orders"],
        "valid_until": str(timezone.localdate() + dt.timedelta(days=400)),
    }
    _code(api("rival").post("/api/v1/finance/consents/", consent, format="json"), 400, "invalid_date")
    _code(
        api("rival").post(
            "/api/v1/finance/consents/",
            {**consent, "valid_until": str(timezone.localdate()), "voucher": lw.rest.pk},
            format="json",
        ),
        404,
        "not_found",
    )
    # applications: someone else's voucher, a mismatched amount
    _code(
        api("supplier").post(
            "/api/v1/finance/applications/", {"product": lw.product.pk, "voucher": lw.part.pk}, format="json"
        ),
        404,
        "not_found",
    )
    _code(
        api("rival").post(
            "/api/v1/finance/applications/",
            {"product": lw.product.pk, "voucher": lw.part.pk, "amount": "11999.99"},
            format="json",
        ),
        400,
        "amount_mismatch",
    )


def test_applications_are_seen_by_their_parties_only_and_maker_is_not_checker(world, api):
    lw = lending_world(world)
    app = approved(lw)
    url = f"/api/v1/finance/applications/{app.pk}/"
    for name in ("supplier", "buyer", "operator", "gov", "nobody"):
        _code(api(name).get(url), 404, "not_found")
        assert api(name).get("/api/v1/finance/applications/").json() == []
    assert api("rival").get(url).json()["actions"] == []
    assert api("lender").get(url).json()["actions"] == ["reject"]
    _code(api("lender").post(url + "check/"), 409, "maker_checker")
    _code(api("rival").post(url + "check/"), 403, "not_lender")
    _code(api("lender").post(url + "reject/", {"reason": ""}, format="json"), 400, "reason_required")
    _code(api("lender").post(url + "disburse/", {}, format="json"), 409, "illegal_transition")
    assert api("lender_checker").post(url + "check/").json()["status"] == "checked"
