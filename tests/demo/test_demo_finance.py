"""The demo's supply-chain finance (issue #5 item 7): made through the real services inside the year of
trade — a core enterprise's confirmed vouchers split across two tiers of suppliers, a lender with two
users, two products and credit lines, applications in every state, a voucher paid at maturity."""

from decimal import Decimal

import pytest
from django.db.models import Count, Sum

from chanlian.core.audit import verify
from chanlian.demo import builder
from chanlian.demo import finance as demo_finance
from chanlian.finance.choices import FinancingStatus
from chanlian.finance.lending_selectors import exposure
from chanlian.finance.models import (
    Consent,
    CreditLine,
    FinancedAsset,
    FinancingApplication,
    LenderProduct,
    Receivable,
    Voucher,
    VoucherHolder,
    VoucherPayment,
)
from chanlian.ledger.selectors import trial_balance, verify_ledger
from chanlian.registry.models import Cluster, Employment, Enterprise
from chanlian.trade.models import Order

pytestmark = pytest.mark.django_db


def test_demo_finance_every_state_through_the_services():
    summary = builder.build()
    fin = summary["finance"]
    tea = Cluster.objects.get(name=builder.TEA_CLUSTER)

    # every state of a financing application, and the summary line says so
    states = set(FinancingApplication.objects.values_list("status", flat=True))
    assert states == set(FinancingStatus.values)
    assert fin["every_state"] and sum(fin["applications"].values()) == FinancingApplication.objects.count()
    line = demo_finance.summary_line(fin)
    assert all(s in line for s in FinancingStatus.values)

    # the core enterprise is the tea cluster's largest buyer; its vouchers come from its terms orders
    core = (
        Order.objects.filter(cluster=tea)
        .exclude(status__in=["created", "cancelled"])
        .values("buyer_id")
        .annotate(t=Sum("amount"))
        .order_by("-t")
        .first()["buyer_id"]
    )
    roots = Voucher.objects.filter(parent__isnull=True)
    assert roots.count() >= 2 and set(roots.values_list("issuer_id", flat=True)) == {core}
    for root in roots:
        receivable = Receivable.objects.get(pk=root.receivable_id)
        assert receivable.status == "confirmed" and receivable.confirmed_by_id is not None
        assert receivable.order.payment_terms.startswith("terms_") and receivable.order.buyer_id == core
        assert root.amount == receivable.amount

    # each split voucher's parts sum to its face, to the fen; the live parts of a tree sum to the root
    for parent in Voucher.objects.filter(status="split"):
        assert sum(parent.parts.values_list("amount", flat=True)) == parent.amount
    for root in roots:
        live = Voucher.objects.filter(root=root).exclude(status="split")
        assert sum(live.values_list("amount", flat=True)) == root.amount

    # across two tiers: parts the tier-1 supplier received were passed to its own supplier, who accepted
    supplier = Enterprise.objects.get(name="安溪县祥华乡华韵茶厂")
    tier2 = set(
        Voucher.objects.filter(parent__isnull=False)
        .exclude(holder__in=[supplier.pk, core])
        .exclude(holder__kind="lender")
        .values_list("holder_id", flat=True)
    )
    assert tier2
    assert VoucherHolder.objects.filter(enterprise=supplier, voucher__holder_id__in=tier2).exists()
    assert Order.objects.filter(supplier_id__in=tier2, buyer=supplier).exists()

    # the lender: two users, products act/360 and act/365, lines for several enterprises, maker ≠ checker
    bank = Enterprise.objects.get(kind="lender")
    assert Employment.objects.filter(enterprise=bank).count() >= 2
    assert set(LenderProduct.objects.filter(lender=bank).values_list("day_count", flat=True)) == {
        "act_360",
        "act_365",
    }
    assert CreditLine.objects.filter(lender=bank).values("enterprise").distinct().count() >= 3
    assert Consent.objects.filter(lender=bank, voucher__isnull=False).exists()  # a per-asset consent too
    for app in FinancingApplication.objects.filter(status__in=["checked", "disbursed", "repaid"]):
        assert app.approved_by_id and app.checked_by_id and app.approved_by_id != app.checked_by_id
    assert FinancingApplication.objects.exclude(registry_number="").exists()

    # claims: exactly the approved/checked/disbursed/repaid applications hold a fingerprint
    claimed = set(FinancedAsset.objects.values_list("claimed_by", flat=True))
    assert claimed == set(
        FinancingApplication.objects.filter(
            status__in=["approved", "checked", "disbursed", "repaid"]
        ).values_list("number", flat=True)
    )

    # a voucher paid at maturity by the issuer: every live part paid, the discounting lender repaid
    paid = VoucherPayment.objects.get()
    assert paid.voucher.maturity_date <= paid.payment.received_on
    assert set(
        Voucher.objects.filter(root=paid.voucher).exclude(status="split").values_list("status", flat=True)
    ) == {"paid"}
    assert paid.payment.order.status in ("settled", "closed")
    repaid = FinancingApplication.objects.get(status="repaid")
    assert repaid.voucher.root_id == paid.voucher_id
    expired = FinancingApplication.objects.get(status="expired")
    assert expired.voucher.root_id == paid.voucher_id

    # exposure per line from the ledger = what is disbursed and not repaid
    for line in CreditLine.objects.filter(lender=bank):
        drawn = FinancingApplication.objects.filter(
            lender=bank, applicant=line.enterprise, status="disbursed"
        ).aggregate(s=Sum("amount"))["s"] or Decimal("0")
        assert exposure(line) == drawn

    # the books balance and the chains verify
    assert verify_ledger().ok
    for cluster in Cluster.objects.all():
        assert trial_balance(cluster).balanced, cluster.name
    assert verify().ok

    # one application per voucher part at most in a live state, the demo's numbers are stable
    live = (
        FinancingApplication.objects.exclude(status__in=["rejected", "withdrawn", "expired"])
        .values("voucher")
        .annotate(n=Count("id"))
    )
    assert all(r["n"] == 1 for r in live)
