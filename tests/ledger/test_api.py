"""The ledger API as its users call it: accounts with derived balances, statements, the trial balance and
the beancount export; who sees what (a foreign account or cluster answers 404 like a missing one)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from beancount import loader
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chanlian.ledger.models import Account
from chanlian.ledger.services import open_account, post_entry

pytestmark = pytest.mark.django_db


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_supplier_sees_only_its_own_accounts_with_balances(api, books, month):
    r = api("supplier").get("/api/v1/ledger/accounts/")
    assert ids(r) == {books.s_cash.pk, books.s_receivable.pk}
    cash = next(row for row in r.json()["results"] if row["code"] == "cash")
    assert cash == {
        "id": books.s_cash.pk,
        "cluster": books.tea.pk,
        "enterprise": books.s_cash.enterprise_id,
        "enterprise_name": "安溪县祥华茶厂",
        "code": "cash",
        "type": "liability",
        "normal_side": "credit",
        "name": "安溪县祥华茶厂 平台现金",
        "currency": "CNY",
        "balance": "15074.50",
        "signed_balance": "-15074.50",
    }


@pytest.mark.parametrize("persona", ["supplier_staff", "supplier_viewer"])
def test_staff_and_viewers_see_their_enterprise_accounts(api, books, persona):
    assert ids(api(persona).get("/api/v1/ledger/accounts/")) == {books.s_cash.pk, books.s_receivable.pk}


@pytest.mark.parametrize("persona", ["outsider", "gov", "lender", "nobody", "pending", "steel_operator"])
def test_others_see_none_of_the_tea_accounts(api, books, persona):
    visible = ids(api(persona).get("/api/v1/ledger/accounts/"))
    tea = set(Account.objects.filter(cluster=books.tea).values_list("id", flat=True))
    assert not visible & tea


def test_operator_and_admin_see_the_whole_cluster(api, books):
    tea = set(Account.objects.filter(cluster=books.tea).values_list("id", flat=True))
    assert ids(api("operator").get("/api/v1/ledger/accounts/?page_size=200")) == tea
    assert ids(api("operator").get(f"/api/v1/ledger/accounts/?cluster={books.tea.pk}&page_size=200")) == tea
    assert ids(api("steel_operator").get("/api/v1/ledger/accounts/")) == {
        books.o_cash.pk,
        books.steel_bank.pk,
    }
    every = set(Account.objects.values_list("id", flat=True))
    assert ids(api("admin").get("/api/v1/ledger/accounts/?page_size=200")) == every


def test_filters(api, books, world):
    buyer = world.enterprises["buyer"]
    r = api("operator").get(f"/api/v1/ledger/accounts/?enterprise={buyer.pk}")
    assert ids(r) == {books.b_cash.pk, books.b_escrow.pk, books.b_payable.pk}
    assert ids(api("operator").get(f"/api/v1/ledger/accounts/?cluster={books.steel.pk}")) == set()
    r = api("operator").get("/api/v1/ledger/accounts/?cluster=abc")
    assert r.status_code == 400 and r.json()["code"] == "invalid_cluster"


def test_account_list_balances_in_a_constant_number_of_queries(api, books, month, world):
    client = api("admin")
    client.get("/api/v1/ledger/accounts/")
    with CaptureQueriesContext(connection) as few:
        client.get("/api/v1/ledger/accounts/")
    for i in range(10):
        open_account(
            books.tea, "cash", world.enterprises["lender"] if i == 0 else world.enterprises["pending"]
        )
    with CaptureQueriesContext(connection) as more:
        client.get("/api/v1/ledger/accounts/")
    assert len(more.captured_queries) == len(few.captured_queries)
    balance_queries = [q for q in more.captured_queries if "SUM" in q["sql"].upper()]
    assert len(balance_queries) == 1


def test_buyer_gets_404_on_the_supplier_account(api, books, month):
    for path in (
        f"/api/v1/ledger/accounts/{books.s_cash.pk}/",
        f"/api/v1/ledger/accounts/{books.s_cash.pk}/statement/",
    ):
        r = api("buyer").get(path)
        assert r.status_code == 404 and r.json()["code"] == "not_found"
        missing = api("buyer").get(path.replace(str(books.s_cash.pk), "999999"))
        assert missing.status_code == 404 and missing.json() == r.json()


def test_statement_over_the_api(api, books, month):
    r = api("supplier").get(f"/api/v1/ledger/accounts/{books.s_cash.pk}/statement/")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["currency"] == "CNY" and body["normal_side"] == "credit"
    assert body["opening_balance"] == "0.00" and body["closing_balance"] == "15074.50"
    assert body["account"]["balance"] == "15074.50"
    assert [line["balance"] for line in body["lines"]] == [
        "17910.00",
        "7910.00",
        "15074.50",
        "15374.50",
        "15074.50",
    ]
    first = body["lines"][0]
    assert first["credit"] == "17910.00" and first["debit"] == "0.00" and first["amount"] == "-17910.00"
    assert first["memo"] == "验收合格，放款给供应商" and first["reference"] == "order:1"
    assert body["lines"][-1]["reverses"] is not None
    assert Decimal(body["debit_total"]) == Decimal("10300.00")


def test_statement_dates(api, books):
    old = timezone.now() - timedelta(days=90)
    post_entry(
        None, cluster=books.tea, kind="t.x", posted_at=old, lines=[(books.s_cash, -50), (books.bank, 50)]
    )
    post_entry(None, cluster=books.tea, kind="t.x", lines=[(books.s_cash, -5), (books.bank, 5)])
    client = api("supplier")
    url = f"/api/v1/ledger/accounts/{books.s_cash.pk}/statement/"
    today = timezone.localdate()
    body = client.get(url).json()  # default: the last 30 days
    assert body["opening_balance"] == "50.00" and len(body["lines"]) == 1 and body["to"] == today.isoformat()
    day = timezone.localdate(old).isoformat()
    body = client.get(f"{url}?from={day}&to={day}").json()
    assert body["opening_balance"] == "0.00" and body["closing_balance"] == "50.00"
    for query, code in (
        ("from=2026-13-01", "invalid_date"),
        ("to=yesterday", "invalid_date"),
        ("from=2026-02-01&to=2026-01-01", "invalid_range"),
        ("from=2020-01-01&to=2026-01-01", "range_too_long"),
    ):
        r = client.get(f"{url}?{query}")
        assert r.status_code == 400 and r.json()["code"] == code, (query, r.content)


def test_trial_balance_over_the_api(api, books, month):
    r = api("operator").get(f"/api/v1/ledger/trial-balance/?cluster={books.tea.pk}")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["balanced"] is True and body["cluster"] == books.tea.pk
    assert body["totals"] == [
        {"currency": "CNY", "debit": "78813.50", "credit": "78813.50", "balance": "0.00", "balanced": True}
    ]
    assert sum(Decimal(row["balance"]) for row in body["rows"]) == 0
    bank = next(row for row in body["rows"] if row["code"] == "bank_clearing")
    assert bank["balance"] == "20488.50" and bank["type"] == "asset"
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    past = api("admin").get(f"/api/v1/ledger/trial-balance/?cluster={books.tea.pk}&as_of={yesterday}").json()
    assert past["as_of"] == yesterday and past["totals"][0]["debit"] == "0.00"


@pytest.mark.parametrize("persona", ["steel_operator", "supplier", "buyer", "gov", "lender", "nobody"])
def test_trial_balance_and_export_are_404_for_anyone_but_the_operator(api, books, month, persona):
    for path in ("/api/v1/ledger/trial-balance/", "/api/v1/ledger/export.beancount"):
        r = api(persona).get(f"{path}?cluster={books.tea.pk}")
        assert r.status_code == 404 and r.json()["code"] == "not_found", (persona, path)


def test_trial_balance_needs_a_cluster(api, books):
    for query in ("", "?cluster=", "?cluster=x", "?cluster=0"):
        r = api("operator").get(f"/api/v1/ledger/trial-balance/{query}")
        assert r.status_code == 400 and r.json()["code"] == "invalid_cluster"
    r = api("operator").get(f"/api/v1/ledger/trial-balance/?cluster={books.tea.pk}&as_of=tomorrow")
    assert r.status_code == 400 and r.json()["code"] == "invalid_date"


def test_anonymous_gets_401(api, books):
    for path in ("/api/v1/ledger/accounts/", f"/api/v1/ledger/trial-balance/?cluster={books.tea.pk}"):
        assert api(None).get(path).status_code in (401, 403)


def test_export_is_text_for_the_operator(api, books, month):
    for accept in ("*/*", "text/plain", "application/json"):
        r = api("operator").get(f"/api/v1/ledger/export.beancount?cluster={books.tea.pk}", HTTP_ACCEPT=accept)
        assert r.status_code == 200 and r["Content-Type"] == "text/plain; charset=utf-8"
        _, errors, _ = loader.load_string(r.content.decode("utf-8"))
        assert errors == []
    refused = api("operator").get("/api/v1/ledger/export.beancount?cluster=x", HTTP_ACCEPT="text/plain")
    assert refused.status_code == 400 and refused["Content-Type"] == "application/json"
    assert refused.json()["code"] == "invalid_cluster"


def test_no_api_posts_money(api, books):
    for path in ("/api/v1/ledger/accounts/", f"/api/v1/ledger/accounts/{books.bank.pk}/"):
        assert api("admin").post(path, {}).status_code == 405
