"""Lending through the services: the discount arithmetic by hand, maker–checker, the refusals (each with
nothing changed), the credit line read from the ledger, consent and its data package, disbursement and
the issuer's payment at maturity with the ledger entries they post."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from chanlian.core.errors import ServiceError
from chanlian.finance import lending
from chanlian.finance import lending_selectors as sel
from chanlian.finance.models import (
    FinancedAsset,
    FinancingApplication,
    FinancingEvent,
    Voucher,
    VoucherPayment,
)
from chanlian.ledger.selectors import trial_balance
from chanlian.trade.models import Order, Shipment
from tests.finance.helpers import counts
from tests.finance.test_lending_steps import (
    apply,
    approved,
    disbursed,
    later,
    lending_world,
    new_lender,
    setup_lender,
)
from tests.trade.order_steps import bal, operator_of

pytestmark = pytest.mark.django_db
D = Decimal


def _all_counts():
    from chanlian.finance.models import Consent, CreditLine, LenderProduct
    from chanlian.ledger.models import JournalEntry

    c = counts()
    for m in (FinancingApplication, FinancingEvent, Consent, CreditLine, LenderProduct, JournalEntry):
        c[m.__name__] = m.objects.count()
    c["statuses"] = sorted(FinancingApplication.objects.values_list("id", "status"))
    c["holders"] = sorted(Voucher.objects.values_list("id", "holder_id", "status"))
    return c


def refused(code, fn, *args, **kw):
    before = _all_counts()
    with pytest.raises(ServiceError) as exc:
        fn(*args, **kw)
    assert exc.value.code == code, (exc.value.code, str(exc.value))
    assert _all_counts() == before
    return exc.value


# ------------------------------------------------------------------------------------------- arithmetic


def test_discount_by_hand():
    # 12,000.00 × 4.35 % × 30 / 360 = 43.50; fee 0.1 % = 12.00; net 11,944.50
    d = lending.discount(D("12000.00"), D("0.0435"), 30, "act_360", D("0.001"))
    assert (d.interest, d.fee, d.net, d.basis) == (D("43.50"), D("12.00"), D("11944.50"), 360)
    # act/365: 12,000 × 0.0435 × 30 / 365 = 42.9041… → 42.90
    d = lending.discount(D("12000.00"), D("0.0435"), 30, "act_365", D("0"))
    assert (d.interest, d.fee, d.net) == (D("42.90"), D("0.00"), D("11957.10"))
    # half-up at the fen: 100 × 0.0162 × 10 / 360 = 0.045 → 0.05 (banker's rounding would give 0.04)
    assert lending.discount(D("100.00"), D("0.0162"), 10, "act_360", D("0")).interest == D("0.05")
    # 1,234.56 × 0.05 × 73 / 365 = 12.3456 → 12.35; fee 1,234.56 × 0.0015 = 1.85184 → 1.85
    d = lending.discount(D("1234.56"), D("0.05"), 73, "act_365", D("0.0015"))
    assert (d.interest, d.fee, d.net) == (D("12.35"), D("1.85"), D("1220.36"))


# ------------------------------------------------------------------------------------------- the chain


def test_discount_then_maturity_pays_everyone(world):
    lw = lending_world(world)
    u = world.users
    order = Order.objects.get(pk=lw.root.receivable.order_id)
    app = disbursed(lw)
    assert (
        app.status == "disbursed" and app.approved_by == u["lender"] and app.checked_by == u["lender_checker"]
    )
    days = (lw.part.maturity_date - timezone.localdate()).days
    expected = lending.discount(D("12000.00"), D("0.0435"), days, "act_360", D("0.001"))
    assert (app.interest, app.fee, app.net) == (expected.interest, expected.fee, expected.net)
    assert days == 30 and app.net == D("11944.50")
    # money: the tier-2 supplier has the net in cash; the claim of the face moved to the lender
    assert bal(order, "cash", lw.rival) == D("11944.50")
    assert bal(order, "receivable", lw.lender) == D("12000.00")
    assert bal(order, "receivable", world.enterprises["supplier"]) == D("24000.00")
    part = Voucher.objects.get(pk=lw.part.pk)
    assert part.holder_id == lw.lender.pk
    assert list(part.events.values_list("kind", flat=True))[-1] == "discounted"
    assert FinancedAsset.objects.filter(fingerprint=f"voucher:{part.pk}", claimed_by=app.number).exists()
    assert sel.exposure(lw.line) == D("12000.00") == sel.drawn_from_applications(lw.line)
    assert sel.available(lw.line) == D("38000.00")
    assert sel.line_figures([lw.line]) == {lw.line.pk: (D("12000.00"), D("0.00"))}
    assert trial_balance(order.cluster).balanced

    operator = operator_of(order)
    refused(
        "not_matured",
        lending.pay_voucher,
        operator,
        lw.root.pk,
        amount="36000.00",
        bank_reference="BK1",
        received_on=timezone.localdate(),
    )
    with later(31):
        refused(
            "amount_mismatch",
            lending.pay_voucher,
            operator,
            lw.part.pk,
            amount="12000.00",
            bank_reference="BK1",
            received_on=timezone.localdate(),
        )
        refused(
            "permission_denied",
            lending.pay_voucher,
            u["buyer"],
            lw.root.pk,
            amount="36000.00",
            bank_reference="BK1",
            received_on=timezone.localdate(),
        )
        assert Voucher.objects.get(pk=lw.rest.pk).is_overdue
        paid = lending.pay_voucher(
            operator, lw.part.pk, amount="36000.00", bank_reference="BK1", received_on=timezone.localdate()
        )
        assert isinstance(paid, VoucherPayment) and paid.voucher_id == lw.root.pk
        refused(
            "already_paid",
            lending.pay_voucher,
            operator,
            lw.root.pk,
            amount="36000.00",
            bank_reference="BK2",
            received_on=timezone.localdate(),
        )
        assert not Voucher.objects.get(pk=lw.rest.pk).is_overdue  # overdue respects paid
    order.refresh_from_db()
    fee = order.fee_amount
    assert order.status in ("settled", "closed")
    assert bal(order, "cash", lw.lender) == D("12000.00")  # the lender got the face
    assert bal(order, "cash", world.enterprises["supplier"]) == D("24000.00") - fee
    assert bal(order, "cash", lw.rival) == D("11944.50")
    for who in (lw.lender, world.enterprises["supplier"]):
        assert bal(order, "receivable", who) == 0
    assert bal(order, "payable", world.enterprises["buyer"]) == 0
    assert bal(order, "bank_clearing") == D("36000.00") + D("11944.50")
    app.refresh_from_db()
    assert app.status == "repaid" and app.repaid_at
    assert sel.exposure(lw.line) == 0 == sel.drawn_from_applications(lw.line)
    assert sel.available(lw.line) == D("50000.00")
    assert sel.line_figures([lw.line]) == {lw.line.pk: (D("0.00"), D("0.00"))}
    assert set(
        Voucher.objects.filter(root=lw.root).exclude(status="split").values_list("status", flat=True)
    ) == {"paid"}
    assert trial_balance(order.cluster).balanced


# ------------------------------------------------------------------------------------------- maker–checker


def test_maker_cannot_check_and_moves_follow_the_table(world):
    lw = lending_world(world)
    u = world.users
    app = lending.create_application(u["rival"], product=lw.product.pk, voucher=lw.part.pk)
    refused("illegal_transition", lending.approve_application, u["lender"], app.pk)
    refused("illegal_transition", lending.start_review, u["lender"], app.pk)
    lending.submit_application(u["rival"], app.pk)
    refused("illegal_transition", lending.submit_application, u["rival"], app.pk)
    refused("not_applicant", lending.withdraw_application, u["lender"], app.pk)
    refused("not_lender", lending.start_review, u["rival"], app.pk)
    lending.start_review(u["lender"], app.pk)
    lending.approve_application(u["lender"], app.pk)
    refused("maker_checker", lending.check_application, u["lender"], app.pk)
    refused("illegal_transition", lending.disburse_application, u["lender"], app.pk)
    refused("illegal_transition", lending.withdraw_application, u["rival"], app.pk)
    lending.check_application(u["lender_checker"], app.pk)
    for name in ("supplier", "buyer", "outsider", "nobody", "gov"):
        refused("not_found", lending.disburse_application, u[name], app.pk)
    lending.disburse_application(u["lender"], app.pk)
    refused("illegal_transition", lending.reject_application, u["lender"], app.pk, reason="too late")
    assert list(FinancingEvent.objects.filter(application=app).values_list("to_status", flat=True)) == [
        "draft",
        "submitted",
        "under_review",
        "approved",
        "checked",
        "disbursed",
    ]


def test_reject_releases_the_claim(world):
    lw = lending_world(world)
    app = approved(lw)
    assert FinancedAsset.objects.filter(claimed_by=app.number).exists()
    refused("reason_required", lending.reject_application, world.users["lender"], app.pk, reason=" ")
    lending.reject_application(world.users["lender_checker"], app.pk, reason="收益不足")
    assert not FinancedAsset.objects.filter(claimed_by=app.number).exists()
    assert sel.available(lw.line) == D("50000.00")
    again = approved(lw)  # the asset is free again
    assert again.status == "approved"


# ------------------------------------------------------------------------------------------- refusals


def test_no_consent(world):
    lw = lending_world(world)
    lending.revoke_consent(world.users["rival"], lw.consent.pk)
    app = lending.create_application(world.users["rival"], product=lw.product.pk, voucher=lw.part.pk)
    refused("no_consent", lending.submit_application, world.users["rival"], app.pk)


def test_consent_revoked_between_submit_and_approval(world):
    lw = lending_world(world)
    app = apply(lw)
    lending.start_review(world.users["lender"], app.pk)
    lending.revoke_consent(world.users["rival"], lw.consent.pk)
    refused("no_consent", lending.approve_application, world.users["lender"], app.pk)
    refused("consent_revoked", lending.revoke_consent, world.users["rival"], lw.consent.pk)


def test_beyond_and_expired_credit_line(world):
    lw = lending_world(world, limit="11999.99")
    app = lending.create_application(world.users["rival"], product=lw.product.pk, voucher=lw.part.pk)
    err = refused("credit_line_exceeded", lending.submit_application, world.users["rival"], app.pk)
    assert err.fields["available"] == "11999.99"
    lending.change_credit_line(world.users["lender"], lw.line.pk, limit="12000.00")
    lending.submit_application(world.users["rival"], app.pk)
    lending.start_review(world.users["lender"], app.pk)
    lending.change_credit_line(
        world.users["lender"], lw.line.pk, expires_on=timezone.localdate() - dt.timedelta(days=1)
    )
    refused("credit_line_expired", lending.approve_application, world.users["lender"], app.pk)
    lending.change_credit_line(
        world.users["lender"], lw.line.pk, status="suspended", expires_on=timezone.localdate()
    )
    refused("credit_line_expired", lending.approve_application, world.users["lender"], app.pk)


def test_asset_matured_and_tenor(world):
    lw = lending_world(world)
    app = lending.create_application(world.users["rival"], product=lw.product.pk, voucher=lw.part.pk)
    with later(30):
        refused("asset_matured", lending.submit_application, world.users["rival"], app.pk)
        refused(
            "asset_matured",
            lending.create_application,
            world.users["rival"],
            product=lw.product.pk,
            voucher=lw.part.pk,
        )
    short = lending.create_product(
        world.users["lender"],
        lender=lw.lender.pk,
        name="短期",
        kind="discount",
        day_count="act_365",
        annual_rate="0.04",
        max_tenor_days=10,
        min_amount="100.00",
        max_amount="5000.00",
        clusters=[world.clusters["tea"].pk],
    )
    refused(
        "amount_out_of_range",
        lending.create_application,
        world.users["rival"],
        product=short.pk,
        voucher=lw.part.pk,
    )
    refused(
        "amount_mismatch",
        lending.create_application,
        world.users["rival"],
        product=lw.product.pk,
        voucher=lw.part.pk,
        amount="100.00",
    )


def test_four_flow_failing(world):
    lw = lending_world(world)
    app = lending.create_application(world.users["rival"], product=lw.product.pk, voucher=lw.part.pk)
    Shipment.objects.filter(order_id=lw.root.receivable.order_id).update(waybill="")
    err = refused("four_flow_failed", lending.submit_application, world.users["rival"], app.pk)
    assert "shipments" in err.fields


def test_already_financed_by_another_lender(world):
    lw = lending_world(world)
    other = new_lender(world, 1)
    product, _line, _consent = setup_lender(world, "lender1")
    first = approved(lw)
    app = lending.create_application(world.users["rival"], product=product.pk, voucher=lw.part.pk)
    refused("already_financed", lending.submit_application, world.users["rival"], app.pk)
    # the voucher can no longer be split or transferred either
    from chanlian.finance import services

    refused(
        "already_financed", services.split_voucher, world.users["rival"], lw.part.pk, amounts=["6000", "6000"]
    )
    assert first.lender_id != other.pk


def test_who_may_act(world):
    lw = lending_world(world)
    u = world.users
    refused("not_found", lending.create_application, u["supplier"], product=lw.product.pk, voucher=lw.part.pk)
    refused("not_found", lending.create_application, u["lender"], product=lw.product.pk, voucher=lw.part.pk)
    refused(
        "not_found",
        lending.create_product,
        u["supplier"],
        lender=lw.lender.pk,
        name="x",
        kind="discount",
        day_count="act_360",
        annual_rate="0.05",
        max_tenor_days=90,
        min_amount="1",
        max_amount="2",
        clusters=[world.clusters["tea"].pk],
    )
    refused(
        "not_served_cluster",
        lending.create_product,
        u["lender"],
        lender=lw.lender.pk,
        name="x",
        kind="discount",
        day_count="act_360",
        annual_rate="0.05",
        max_tenor_days=90,
        min_amount="1",
        max_amount="2",
        clusters=[world.clusters["steel"].pk],
    )
    for bad, code in (("0.5", "invalid_rate"), ("abc", "invalid_rate"), ("0.0000001", "invalid_rate")):
        refused(
            code,
            lending.create_product,
            u["lender"],
            lender=lw.lender.pk,
            name="x",
            kind="discount",
            day_count="act_360",
            annual_rate=bad,
            max_tenor_days=90,
            min_amount="1",
            max_amount="2",
            clusters=[world.clusters["tea"].pk],
        )
    refused(
        "credit_line_exists",
        lending.open_credit_line,
        u["lender"],
        lender=lw.lender.pk,
        enterprise=lw.rival.pk,
        limit="1.00",
        expires_on=timezone.localdate(),
    )
    refused(
        "not_admin",
        lending.grant_consent,
        u["supplier_staff"],
        enterprise=world.enterprises["supplier"].pk,
        lender=lw.lender.pk,
        cluster=world.clusters["tea"].pk,
        scope=["orders"],
        valid_until=timezone.localdate(),
    )
    refused(
        "invalid_scope",
        lending.grant_consent,
        u["supplier"],
        enterprise=world.enterprises["supplier"].pk,
        lender=lw.lender.pk,
        cluster=world.clusters["tea"].pk,
        scope=["everything"],
        valid_until=timezone.localdate(),
    )
    refused(
        "invalid_lender",
        lending.grant_consent,
        u["supplier"],
        enterprise=world.enterprises["supplier"].pk,
        lender=world.enterprises["buyer"].pk,
        cluster=world.clusters["tea"].pk,
        scope=["orders"],
        valid_until=timezone.localdate(),
    )


def test_registry_number(world):
    lw = lending_world(world)
    app = approved(lw)
    for bad in ("123", "0438762800046345231X", "043876280004634523189", ""):
        refused(
            "invalid_registry_number",
            lending.record_registry_number,
            world.users["lender"],
            app.pk,
            number=bad,
        )
    refused(
        "not_lender",
        lending.record_registry_number,
        world.users["rival"],
        app.pk,
        number="04387628000463452318",
    )
    lending.record_registry_number(world.users["lender"], app.pk, number="04387628000463452318")
    assert FinancingApplication.objects.get(pk=app.pk).registry_number == "04387628000463452318"


def test_approved_not_disbursed_expires_at_payment(world):
    lw = lending_world(world)
    app = approved(lw)
    order = Order.objects.get(pk=lw.root.receivable.order_id)
    with later(30):
        lending.pay_voucher(
            operator_of(order),
            lw.root.pk,
            amount="36000.00",
            bank_reference="BK9",
            received_on=timezone.localdate(),
        )
    app.refresh_from_db()
    assert app.status == "expired"
    assert not FinancedAsset.objects.filter(claimed_by=app.number).exists()
    assert bal(order, "cash", lw.rival) == D("12000.00")  # the holder was paid, not the lender


# ------------------------------------------------------------------------------------------- consent


def test_consent_package_and_404_after_revoke_or_expiry(world):
    lw = lending_world(world)
    u = world.users
    package = sel.data_package(u["lender"], lw.consent.pk)
    assert package["enterprise"]["id"] == lw.rival.pk
    assert package["scope"] == ["asset", "fulfilment", "orders", "risk"]
    refs = {o["reference"] for o in package["orders"]}
    rival_orders = set(
        Order.objects.filter(supplier=lw.rival).exclude(status="created").values_list("reference", flat=True)
    )
    assert refs == rival_orders and refs
    assert all(set(o) >= {"counterparty", "role", "amount"} for o in package["orders"])
    assert {f["order"] for f in package["fulfilment"]} == {o["id"] for o in package["orders"]}
    assert package["asset"] is None  # the consent names no asset
    for name in ("supplier", "buyer", "rival", "nobody", "outsider"):
        with pytest.raises(ServiceError) as exc:
            sel.data_package(u[name], lw.consent.pk)
        assert exc.value.code == "not_found"
    narrow = lending.grant_consent(
        u["rival"],
        enterprise=lw.rival.pk,
        lender=lw.lender.pk,
        cluster=world.clusters["tea"].pk,
        scope=["asset"],
        valid_until=timezone.localdate() + dt.timedelta(days=5),
        voucher=lw.part.pk,
    )
    p2 = sel.data_package(u["lender_checker"], narrow.pk)
    assert set(p2) - {"consent", "enterprise", "lender", "cluster", "scope", "valid_until", "as_of"} == {
        "asset"
    }
    assert p2["asset"]["id"] == lw.part.pk and p2["asset"]["four_flow_ok"] is True
    assert [c["key"] for c in p2["asset"]["four_flow"]][:2] == ["contract", "shipments"]
    with later(6), pytest.raises(ServiceError):
        sel.data_package(u["lender"], narrow.pk)
    lending.revoke_consent(u["rival"], lw.consent.pk)
    with pytest.raises(ServiceError) as exc:
        sel.data_package(u["lender"], lw.consent.pk)
    assert exc.value.code == "not_found"


def test_an_all_assets_consent_shows_the_applications_asset_and_its_risk(world):
    lw = lending_world(world)
    app = apply(lw)
    lender = world.users["lender"]
    without = sel.data_package(lender, lw.consent.pk)
    assert without["asset"] is None and without["risk"]["asset"] is None
    package = sel.data_package(lender, lw.consent.pk, application=app)
    assert package["asset"]["id"] == app.voucher_id and package["asset"]["kind"] == "voucher"
    assert package["asset"]["four_flow_ok"] is True
    assert package["risk"]["asset"] is not None
    four_flow = next(f for f in package["risk"]["factors"] if f["key"] == "four_flow")
    assert four_flow["no_data"] is False
    # an application that is not the consent's enterprise's to this lender opens no asset
    app.applicant_id = world.enterprises["supplier"].pk
    assert sel.data_package(lender, lw.consent.pk, application=app)["asset"] is None


def test_line_figures_agree_with_each_lines_own_figures(world, django_assert_max_num_queries):
    lw = lending_world(world)
    app = approved(lw)  # reserves room on the line, not yet drawn
    other = lending.open_credit_line(
        world.users["lender"],
        lender=lw.lender.pk,
        enterprise=world.enterprises["supplier"].pk,
        limit="9000.00",
        expires_on=timezone.localdate() + dt.timedelta(days=90),
    )
    lines = [lw.line, other]
    with django_assert_max_num_queries(2):
        figures = sel.line_figures(lines)
    assert figures == {ln.pk: (sel.exposure(ln), sel.reserved(ln)) for ln in lines}
    assert figures[lw.line.pk] == (D("0.00"), app.amount)
    lending.check_application(world.users["lender_checker"], app.pk)
    lending.disburse_application(world.users["lender_checker"], app.pk, bank_reference="LN0009")
    assert sel.line_figures(lines) == {ln.pk: (sel.exposure(ln), sel.reserved(ln)) for ln in lines}
    assert sel.line_figures(lines)[lw.line.pk] == (app.amount, D("0.00"))
    assert sel.line_figures([]) == {}
