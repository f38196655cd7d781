"""The financing chart: the finance facts in the analytics store (incremental), the monthly figures, and
the suppression rule per scope (primary, lenders, and stocks not derivable by subtraction).

The facts (vouchers, financings, voucher payments) are written with the ORM, as tests/insights/facts.py
writes orders, so that a test can have many lenders and applicants in closed months; one test drives a
financing through the real lending services."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from chanlian.finance.models import (
    FinancingApplication,
    LenderProduct,
    Receivable,
    Voucher,
    VoucherPayment,
)
from chanlian.insights import financing as fin
from chanlian.insights import privacy
from chanlian.ledger.models import JournalEntry
from chanlian.trade.models import Payment
from tests.insights.facts import at, closed_month, enterprises, order, store  # noqa: F401

pytestmark = pytest.mark.django_db

_seq = itertools.count(1)


def voucher(world, cluster, creditor, issuer, *, month, amount, day=5) -> Voucher:
    """An original voucher: ``issuer`` (the buyer) owes ``creditor`` (the supplier) ``amount``."""
    amount = Decimal(str(amount))
    o = order(world, cluster, creditor, issuer, month=month, amount=amount, day=day)
    issued = at(month, day)
    receivable = Receivable.objects.create(
        cluster=cluster,
        order=o,
        creditor=creditor,
        debtor=issuer,
        amount=amount,
        due_date=(issued + timedelta(days=90)).date(),
        registered_by=world.users["supplier"],
        status="confirmed",
    )
    v = Voucher.objects.create(
        number=f"TV{next(_seq):08d}",
        cluster=cluster,
        receivable=receivable,
        issuer=issuer,
        holder=creditor,
        amount=amount,
        maturity_date=receivable.due_date,
        issued_at=issued,
    )
    v.root = v
    v.save(update_fields=["root"])
    return v


def product(world, lender) -> LenderProduct:
    return LenderProduct.objects.create(
        lender=lender,
        name=f"贴现{next(_seq)}",
        kind="discount",
        day_count="act_360",
        annual_rate=Decimal("0.0500"),
        max_tenor_days=365,
        min_amount=Decimal("1.00"),
        max_amount=Decimal("100000000.00"),
        created_by=world.users["lender"],
    )


def financed(world, v: Voucher, lender, prod, *, month, day=12, repaid_month=None) -> FinancingApplication:
    """``v``'s holder discounts it with ``lender``, disbursed in ``month`` (repaid in ``repaid_month``)."""
    app = FinancingApplication.objects.create(
        number=f"TF{next(_seq):08d}",
        cluster_id=v.cluster_id,
        applicant_id=v.holder_id,
        lender=lender,
        product=prod,
        voucher=v,
        amount=v.amount,
        maturity_date=v.maturity_date,
        tenor_days=90,
        day_count="act_360",
        annual_rate=Decimal("0.0500"),
        fee_rate=Decimal("0"),
        net=(v.amount * Decimal("0.9875")).quantize(Decimal("0.01")),
        status="repaid" if repaid_month else "disbursed",
        created_by=world.users["supplier"],
        disbursed_at=at(month, day),
        repaid_at=at(repaid_month, day) if repaid_month else None,
    )
    return app


def paid(world, v: Voucher, *, month, day=20) -> VoucherPayment:
    """The issuer pays ``v`` (an original) at maturity."""
    entry = JournalEntry.objects.create(cluster_id=v.cluster_id, kind="voucher.pay", posted_at=at(month, day))
    payment = Payment.objects.create(
        order=v.receivable.order,
        cluster_id=v.cluster_id,
        purpose="terms",
        method="manual_transfer",
        amount=v.amount,
        received_on=at(month, day).date(),
        entry=entry,
        created_by=world.users["buyer"],
    )
    return VoucherPayment.objects.create(
        voucher=v,
        cluster_id=v.cluster_id,
        amount=v.amount,
        payment=payment,
        entry=entry,
        paid_by=world.users["buyer"],
        paid_at=at(month, day),
    )


# ------------------------------------------------------------------------------------------ the world

A, B, C, D = (closed_month(k) for k in (4, 3, 2, 1))


@pytest.fixture
def financed_world(world, store):  # noqa: F811
    return finance_facts(world)


def finance_facts(world):
    """Four closed months of finance in the tea cluster (see each test for what the rule must do):

    - A: four vouchers issued (4 issuers, 4 creditors); three discounted with three lenders;
    - B: the fourth discounted alone (one applicant, one lender): withheld;
    - C: three vouchers issued and discounted (3 applicants, 3 lenders); one of A's financings repaid and its
      voucher paid (one enterprise each side): withheld;
    - D: two vouchers issued (issuers 2 and 3) and discounted by two new applicants with two new lenders.
    """
    tea = world.clusters["tea"]
    sup = enterprises(6, "350524", "茶厂")
    iss = enterprises(4, "310115", "茶商")
    lenders = enterprises(6, "350524", "银行")
    prods = [product(world, lender) for lender in lenders]
    va = [voucher(world, tea, sup[i], iss[i], month=A, amount=10_000 * (i + 1)) for i in range(4)]
    fa = [financed(world, va[i], lenders[i], prods[i], month=A) for i in range(3)]
    financed(world, va[3], lenders[3], prods[3], month=B)
    vc = [voucher(world, tea, sup[i], iss[i], month=C, amount=5_000 + i) for i in range(3)]
    for i in range(3):
        financed(world, vc[i], lenders[i], prods[i], month=C)
    fa[0].status, fa[0].repaid_at = "repaid", at(C, 20)
    fa[0].save()
    paid(world, va[0], month=C)
    vd = [voucher(world, tea, sup[4 + i], iss[2 + i], month=D, amount=7_000 + i) for i in range(2)]
    for i in range(2):
        financed(world, vd[i], lenders[4 + i], prods[4 + i], month=D)
    fin.refresh()
    return tea


def rows_by_month(chart) -> dict[str, dict]:
    return {r["month"]: r for r in chart.rows}


def chart(tea, scope):
    return rows_by_month(fin.financing(tea, scope, D))


# -------------------------------------------------------------------------------------------- tests


def test_the_operator_sees_every_figure(financed_world):
    rows = chart(financed_world, privacy.OPERATOR)
    assert (rows[A]["disbursed_count"], rows[A]["disbursed_amount"]) == (3, "60000.00")
    assert (rows[B]["disbursed_count"], rows[B]["disbursed_amount"]) == (1, "40000.00")
    assert (rows[C]["disbursed_count"], rows[C]["disbursed_amount"]) == (3, "15003.00")
    assert (rows[C]["repaid_count"], rows[C]["repaid_amount"]) == (1, "10000.00")
    assert [rows[m]["outstanding_count"] for m in (A, B, C, D)] == [3, 4, 6, 8]
    assert rows[D]["outstanding_amount"] == "119004.00"  # 60000 + 40000 + 15003 − 10000 + 14001
    assert [rows[m]["lenders"] for m in (A, B, C, D)] == [3, 1, 3, 2]
    assert [rows[m]["vouchers_issued_count"] for m in (A, B, C, D)] == [4, 0, 3, 2]
    assert rows[C]["vouchers_paid_amount"] == "10000.00"
    assert [rows[m]["vouchers_outstanding_count"] for m in (A, B, C, D)] == [4, 4, 6, 8]
    assert rows[D]["vouchers_outstanding_amount"] == "119004.00"  # 100000 + 15003 − 10000 + 14001
    months = list(rows)
    assert len(months) == 12 and months[-1] == D
    assert all(rows[m]["disbursed_count"] == 0 and rows[m]["outstanding_count"] == 0 for m in months[:-4])


@pytest.mark.parametrize("scope", sorted(privacy.SUPPRESSED_SCOPES))
def test_the_rule_withholds_small_cells_and_stocks_that_subtraction_would_reveal(financed_world, scope):
    rows = chart(financed_world, scope)
    # primary: three applicants and three lenders behind a flow
    assert rows[A]["disbursed_amount"] == "60000.00" and rows[C]["disbursed_amount"] == "15003.00"
    assert rows[B]["disbursed_amount"] is None and rows[B]["disbursed_count"] is None
    assert rows[D]["disbursed_amount"] is None  # two applicants, two lenders
    assert rows[C]["repaid_amount"] is None  # one of each
    # the lenders are a count, shown only when three or more
    assert [rows[m]["lenders"] for m in (A, B, C, D)] == [3, None, 3, None]
    # stocks: B's and C's would give B's lone financing (C − A − C's disbursed); D's withheld flows since A
    # (B, C's repayment, D) come from 4 applicants and 4 lenders together
    assert rows[A]["outstanding_amount"] == "60000.00"
    assert rows[B]["outstanding_amount"] is None and rows[C]["outstanding_amount"] is None
    assert rows[D]["outstanding_amount"] == "119004.00"
    # vouchers: A issued by 4; B nothing moved (the stock is published: it equals A's); C's payment is one
    # issuer's: C withheld; D's issues (issuers 2, 3) with C's payment (issuer 0) make three: D published
    assert rows[A]["vouchers_issued_amount"] == "100000.00"
    assert rows[B]["vouchers_outstanding_amount"] == "100000.00"
    assert rows[C]["vouchers_paid_amount"] is None and rows[C]["vouchers_outstanding_amount"] is None
    assert rows[D]["vouchers_issued_amount"] is None
    assert rows[D]["vouchers_outstanding_amount"] == "119004.00"
    # months without any finance: nothing behind them, withheld like any such cell
    assert rows[B]["vouchers_issued_count"] is None and rows[B]["repaid_count"] is None


@pytest.mark.parametrize("scope", sorted(privacy.SUPPRESSED_SCOPES))
def test_no_withheld_flow_can_be_worked_out_from_the_published_figures(financed_world, scope):
    """Between two published stocks, the withheld flows' sum is revealed: it must come from no enterprise or
    from three or more on each side (counted from the database, not from the module under test)."""
    from chanlian.finance.models import VoucherPayment

    tea = financed_world
    shown = fin.financing(tea, scope, D).rows
    full = rows_by_month(fin.financing(tea, privacy.OPERATOR, D))
    for prefix, inflow, outflow in (("", "disbursed", "repaid"), ("vouchers_", "issued", "paid")):
        last = None
        for r in shown:
            if r[f"{prefix}outstanding_amount"] is None:
                continue
            if last is not None:
                between = [x for x in shown if last < x["month"] <= r["month"]]
                delta = Decimal(r[f"{prefix}outstanding_amount"]) - Decimal(
                    next(x for x in shown if x["month"] == last)[f"{prefix}outstanding_amount"]
                )
                known = sum(
                    (
                        Decimal(x[f"{prefix}{inflow}_amount"] or 0)
                        - Decimal(x[f"{prefix}{outflow}_amount"] or 0)
                        for x in between
                    ),
                    Decimal(0),
                )
                hidden = [
                    (x["month"], kind)
                    for x in between
                    for kind in (inflow, outflow)
                    if x[f"{prefix}{kind}_amount"] is None and full[x["month"]][f"{prefix}{kind}_count"]
                ]
                if hidden:
                    # the revealed sum is built from enough enterprises on each side
                    months = {m for m, _ in hidden}
                    if prefix:
                        a, b = _voucher_parties(tea, months, {k for _, k in hidden})
                    else:
                        a, b = _financing_parties(tea, months, {k for _, k in hidden})
                    assert len(a) >= 3 and len(b) >= 3, (prefix, last, r["month"], hidden)
                else:
                    assert delta == known
            last = r["month"]
    assert VoucherPayment.objects.exists()


def _month(dt) -> str:
    from django.utils import timezone

    return timezone.localtime(dt).strftime("%Y-%m")


def _financing_parties(tea, months, kinds):
    from chanlian.finance.models import FinancingApplication

    a, b = set(), set()
    for f in FinancingApplication.objects.filter(cluster=tea, disbursed_at__isnull=False):
        if ("disbursed" in kinds and _month(f.disbursed_at) in months) or (
            "repaid" in kinds and f.repaid_at and _month(f.repaid_at) in months
        ):
            a.add(f.applicant_id)
            b.add(f.lender_id)
    return a, b


def _voucher_parties(tea, months, kinds):
    from chanlian.finance.models import Voucher, VoucherPayment

    a, b = set(), set()
    if "issued" in kinds:
        for v in Voucher.objects.filter(cluster=tea, parent__isnull=True).select_related("receivable"):
            if _month(v.issued_at) in months:
                a.add(v.issuer_id)
                b.add(v.receivable.creditor_id)
    if "paid" in kinds:
        for p in VoucherPayment.objects.filter(cluster=tea).select_related("voucher__receivable"):
            if _month(p.paid_at) in months:
                a.add(p.voucher.issuer_id)
                b.add(p.voucher.receivable.creditor_id)
    return a, b


def test_the_same_month_is_withheld_whatever_window_is_asked(financed_world):
    tea = financed_world
    for scope in privacy.SUPPRESSED_SCOPES:
        late = rows_by_month(fin.financing(tea, scope, D))
        early = rows_by_month(fin.financing(tea, scope, C, months=3))
        for m, row in early.items():
            assert row == late[m]


def test_a_second_refresh_writes_nothing_and_a_change_is_appended(financed_world, store):  # noqa: F811
    root = fin.store_dir()

    def files():  # the parts and the state (the lock file is opened by every refresh)
        return {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file() and p.name != ".lock"}

    before = files()
    again = fin.refresh()
    assert again.total == 0 and again.parts == []
    assert files() == before
    # a repayment changes one financing: one row appended, and the view keeps its newest version
    from chanlian.finance.models import FinancingApplication

    app = FinancingApplication.objects.filter(status="disbursed").order_by("id").first()
    app.status, app.repaid_at = "repaid", at(D, 25)
    app.save()
    result = fin.refresh()
    assert result.rows == {"financings": 1, "vouchers": 0, "voucher_payments": 0}
    con = fin.connect()
    n, status = con.execute(
        "SELECT count(*), max(status) FROM financing_facts WHERE financing_id = ?", [app.pk]
    ).fetchone()
    assert (n, status) == (1, "repaid")
    assert fin.refresh().total == 0
    assert fin.status()["tables"]["financings"]["parts"][-1] == result.parts[0]


def test_rebuild_starts_over_with_the_same_figures(financed_world):
    tea = financed_world
    before = fin.financing(tea, privacy.OPERATOR, D).rows
    result = fin.refresh(rebuild=True)
    assert result.rows == {"financings": 9, "vouchers": 9, "voucher_payments": 1}
    assert fin.financing(tea, privacy.OPERATOR, D).rows == before


def test_an_empty_store_answers_zeros_for_the_operator_and_dashes_for_the_public(world, store):  # noqa: F811
    tea = world.clusters["tea"]
    op = fin.financing(tea, privacy.OPERATOR, D)
    assert all(r["disbursed_count"] == 0 and r["vouchers_outstanding_amount"] == "0.00" for r in op.rows)
    pub = fin.financing(tea, privacy.PUBLIC, D)
    assert all(r["disbursed_count"] is None and r["outstanding_amount"] is None for r in pub.rows)


def test_the_api_answers_per_scope_and_the_command_refreshes(financed_world, world):
    tea = financed_world
    url = f"/api/v1/insights/clusters/{tea.pk}/financing/"
    public = APIClient().get(url, {"month": D}).json()
    assert public["scope"] == "public" and public["chart"] == "financing" and public["columns"] == fin.COLUMNS
    assert {r["month"]: r for r in public["rows"]}[B]["disbursed_amount"] is None
    gov = APIClient()
    gov.force_authenticate(world.users["gov"])
    body = gov.get(url, {"month": D}).json()
    assert body["scope"] == "government" and body["rows"] == public["rows"]
    op = APIClient()
    op.force_authenticate(world.users["operator"])
    body = op.get(url, {"month": D}).json()
    assert (
        body["scope"] == "operator"
        and {r["month"]: r for r in body["rows"]}[B]["disbursed_amount"] == "40000.00"
    )
    csv = APIClient().get(f"/api/v1/insights/clusters/{tea.pk}/financing.csv", {"month": D})
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    assert (
        APIClient().get(f"/api/v1/insights/clusters/{tea.pk}/financing/", {"month": "2026-13"}).json()["code"]
        == "invalid_month"
    )
    assert APIClient().get("/api/v1/insights/clusters/999999/financing/").status_code == 404

    from io import StringIO

    from django.core.management import call_command

    before = fin.financing(tea, privacy.OPERATOR, D).rows
    call_command("insights", "refresh", "--rebuild", stdout=StringIO())
    state = fin.status()["tables"]
    assert all(len(state[t.name]["parts"]) == 1 for t in fin.TABLES)
    assert fin.financing(tea, privacy.OPERATOR, D).rows == before
    call_command("insights", "refresh", stdout=StringIO())
    assert fin.status()["tables"] == state  # nothing new: nothing written
    out = StringIO()
    call_command("insights", "status", stdout=out)
    assert state["financings"]["parts"][0] in out.getvalue()


def test_a_financing_through_the_lending_services_shows_for_the_operator(world, store):  # noqa: F811
    """A voucher split and a part discounted through the real services, then paid by the issuer at maturity:
    each refresh appends what moved and the operator's chart follows."""
    from django.utils import timezone

    from chanlian.finance import lending
    from chanlian.insights import cockpit
    from tests.finance.test_lending_steps import disbursed, later, lending_world
    from tests.trade.order_steps import operator_of

    lw = lending_world(world)
    app = disbursed(lw)
    tea = world.clusters["tea"]
    first = fin.refresh()
    assert first.rows == {"financings": 1, "vouchers": 1, "voucher_payments": 0}
    now = cockpit.month_key(timezone.localdate())
    rows = rows_by_month(fin.financing(tea, privacy.OPERATOR, now))
    assert (rows[now]["disbursed_count"], rows[now]["disbursed_amount"]) == (1, f"{app.amount:.2f}")
    assert rows[now]["outstanding_amount"] == f"{app.amount:.2f}" and rows[now]["lenders"] == 1
    assert rows[now]["vouchers_outstanding_amount"] == f"{lw.root.amount:.2f}"
    assert fin.refresh().total == 0
    with later(31):
        from chanlian.trade.models import Order

        order = Order.objects.get(pk=lw.root.receivable.order_id)
        lending.pay_voucher(
            operator_of(order),
            lw.root.pk,
            amount=f"{lw.root.amount:.2f}",
            bank_reference="BK1",
            received_on=timezone.localdate(),
        )
        second = fin.refresh()
        assert second.rows == {"financings": 1, "vouchers": 0, "voucher_payments": 1}
        then = cockpit.month_key(timezone.localdate())
        rows = rows_by_month(fin.financing(tea, privacy.OPERATOR, then))
        assert sum(r["repaid_count"] for r in rows.values()) == 1
        assert sum(r["vouchers_paid_count"] for r in rows.values()) == 1
        assert (
            rows[then]["outstanding_amount"] == "0.00" and rows[then]["vouchers_outstanding_amount"] == "0.00"
        )
        assert fin.refresh().total == 0
