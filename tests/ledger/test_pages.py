"""The operator's trial balance and the account statement pages, in the site's look: Chinese by default,
English on request, a foreign cluster or account a 404 exactly like a missing one."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def page(world):
    def get(persona, path, language=None):
        client = Client()
        if language:
            client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        if persona:
            client.force_login(world.users[persona])
        return client.get(path)

    return get


def test_operator_trial_balance_page(page, books, month):
    r = page("operator", f"/ledger/clusters/{books.tea.pk}/trial-balance/", language="en")
    html = r.content.decode()
    assert r.status_code == 200
    assert '<html lang="en"' in html and "Trial balance" in html and "Balanced" in html
    assert "20,488.50" in html and "78,813.50" in html  # bank balance; total debits = total credits
    assert "Assets:Bank:Clearing" in html and "安溪县祥华茶厂" in html
    assert f"/ledger/accounts/{books.s_cash.pk}/" in html
    assert f"/api/v1/ledger/export.beancount?cluster={books.tea.pk}" in html
    assert 'href="/static/ledger/ledger.css"' in html or "ledger/ledger.css" in html


def test_trial_balance_page_as_of_and_bad_date(page, books, month):
    ok = page("operator", f"/ledger/clusters/{books.tea.pk}/trial-balance/?as_of=2020-01-01", language="en")
    assert ok.status_code == 200 and "2020-01-01" in ok.content.decode()
    bad = page("operator", f"/ledger/clusters/{books.tea.pk}/trial-balance/?as_of=2020-13-01", language="en")
    assert bad.status_code == 400 and "as_of must be a date (YYYY-MM-DD)." in bad.content.decode()


@pytest.mark.parametrize("persona", ["steel_operator", "supplier", "buyer", "gov", "lender", "nobody"])
def test_trial_balance_page_is_404_for_others(page, books, persona):
    r = page(persona, f"/ledger/clusters/{books.tea.pk}/trial-balance/")
    missing = page(persona, "/ledger/clusters/999999/trial-balance/")
    assert r.status_code == missing.status_code == 404


def test_admin_sees_any_trial_balance(page, books):
    assert page("admin", f"/ledger/clusters/{books.steel.pk}/trial-balance/").status_code == 200


def test_anonymous_is_sent_to_log_in(page, books):
    r = page(None, f"/ledger/clusters/{books.tea.pk}/trial-balance/")
    assert r.status_code == 302 and "/login/" in r["Location"]


def test_supplier_statement_page(page, books, month):
    r = page("supplier", f"/ledger/accounts/{books.s_cash.pk}/", language="en")
    html = r.content.decode()
    assert r.status_code == 200
    assert "Account statement" in html and "Cash on the platform" in html
    assert "15,074.50" in html and "17,910.00" in html and "验收合格，放款给供应商" in html
    assert "order:1" in html and "reverses #" in html
    # the supplier does not operate the cluster: no link to its trial balance
    assert "trial-balance" not in html


def test_statement_page_dates(page, books, month):
    path = f"/ledger/accounts/{books.s_cash.pk}/"
    r = page("supplier", f"{path}?from=2020-01-01&to=2020-01-31", language="en")
    assert r.status_code == 200 and "No journal lines in this period." in r.content.decode()
    bad = page("supplier", f"{path}?from=2020-02-01&to=2020-01-01", language="en")
    assert bad.status_code == 400 and "The start date is after the end date." in bad.content.decode()


@pytest.mark.parametrize("persona", ["buyer", "outsider", "steel_operator", "gov", "nobody"])
def test_statement_page_is_404_for_others(page, books, persona):
    assert page(persona, f"/ledger/accounts/{books.s_cash.pk}/").status_code == 404
    assert page(persona, "/ledger/accounts/999999/").status_code == 404


def test_operator_reads_any_statement_of_the_cluster_and_pages_speak_chinese(page, books, month):
    r = page("operator", f"/ledger/accounts/{books.b_escrow.pk}/")
    html = r.content.decode()
    assert r.status_code == 200 and '<html lang="zh-hans"' in html
    assert f"/ledger/clusters/{books.tea.pk}/trial-balance/" in html


def test_accounts_page(page, books, month):
    html = page("supplier", "/ledger/", language="en").content.decode()
    assert "Ledger accounts" in html and "15,074.50" in html
    assert (
        f"/ledger/accounts/{books.s_cash.pk}/" in html and f"/ledger/accounts/{books.b_cash.pk}/" not in html
    )
    operator = page("operator", "/ledger/", language="en").content.decode()
    assert f"/ledger/clusters/{books.tea.pk}/trial-balance/" in operator
    empty = page("nobody", "/ledger/", language="en").content.decode()
    assert "No ledger accounts yet." in empty
