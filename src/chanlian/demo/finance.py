"""Supply-chain finance in the demo (issue #5), made through the real services on the demo's clock.

A story of the year's last three months, run by the same event loop as the trade history (``Sim``), so
every row carries the time of the story it tells and a voucher can mature and be paid before today:

* the **core enterprise** is the tea cluster's largest buyer (by the amount it bought so far — the
  ``buyer`` persona, 上海茗源); it buys on 30/60/90-day terms from the ``supplier`` persona (tier 1, 华韵茶厂)
  and from its next supplier; each order is accepted and invoiced, the supplier registers the
  receivable and the core enterprise confirms it (确权, its admin re-entering the password): a voucher;
* the tier-1 supplier buys raw tea from a cooperative (tier 2) and pays it with parts of its vouchers:
  split, transferred, accepted;
* the ``lender`` persona's bank has a second user (``lender2``, the checker), two discount products
  (actual/360 and actual/365) and credit lines for four enterprises; the holders grant consent and apply;
  applications end in **every** state of ``FinancingStatus`` (draft … expired);
* the first voucher matures: the daily ``expire_applications`` expires the approval not disbursed in time,
  then the issuer pays (``pay_voucher``): each holder is paid, the discounting lender is repaid.

Deterministic: its own seeded generator and fixed shares; no wall-clock reads.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal

from django.db.models import Count, Sum
from django.utils import timezone

from chanlian.finance import lending
from chanlian.finance import services as finance
from chanlian.finance.choices import FinancingStatus
from chanlian.finance.models import (
    CreditLine,
    FinancingApplication,
    LenderProduct,
    Voucher,
    VoucherPayment,
    VoucherTransfer,
)
from chanlian.registry import services as registry
from chanlian.registry.models import Employment
from chanlian.registry.principal import forget
from chanlian.trade import services as trade
from chanlian.trade.choices import ListingStatus, OrderStatus
from chanlian.trade.models import Listing, Order

from .history import office_hours

D = Decimal
SEED = 2026 + 55
# How long before the end of the history the finance story starts (days).
STORY_DAYS = 84
# The demo's signatures in the finance story for users without a demo login: set on the in-memory user
# only (never saved), as the trade history does for its generated members.
SIGNING = "demo-finance-signing"
ALL_SCOPES = ["asset", "fulfilment", "orders", "risk"]
# The second young voucher's parts (shares of its face; the last part takes the rest, to the fen).
YOUNG_SHARES = [D(x) for x in ("0.14", "0.12", "0.11", "0.10", "0.10", "0.09", "0.08", "0.09", "0.09")]


class FinanceDemo:
    """The actors of the story and what it made (read by ``summary``)."""

    def __init__(
        self, *, tea, bank, lender_user, operator_user, supplier, supplier_user, new_login, persona_pw
    ):
        self.tea = tea
        self.bank = bank
        self.lender = lender_user
        self.operator = operator_user
        self.s1 = supplier
        self.s1_user = supplier_user
        self.new_login = new_login
        self.persona_pw = persona_pw
        self.rng = random.Random(SEED)
        self._n = 0
        self.users: dict[int, object] = {}
        self.core = None
        self.checker = None
        self.products: dict[str, LenderProduct] = {}

    # ---- helpers

    def seq(self) -> int:
        self._n += 1
        return self._n

    def admin(self, enterprise_id: int):
        """The enterprise's first admin, loaded once; it signs with its demo password or, having none,
        with a password set on this in-memory instance only."""
        user = self.users.get(enterprise_id)
        if user is None:
            row = (
                Employment.objects.filter(enterprise_id=enterprise_id, role="admin")
                .select_related("user")
                .order_by("id")
                .first()
            )
            user = row.user
            if not user.check_password(self.persona_pw):
                user.set_password(SIGNING)
                user._demo_signing = SIGNING
            else:
                user._demo_signing = self.persona_pw
            self.users[enterprise_id] = user
        forget(user)
        return user

    def at(self, days_before_end: float, hour: float = 10.0) -> datetime:
        """A moment ``days_before_end`` days before the story's end, in office hours."""
        tz = timezone.get_current_timezone()
        day = (self.end - timedelta(days=days_before_end)).date()
        moment = datetime.combine(day, time(8, 30), tzinfo=tz) + timedelta(hours=hour - 8.5)
        return office_hours(moment + timedelta(minutes=self.rng.uniform(0, 40)), self.rng)

    # ---- trade: an order on terms, accepted and invoiced

    def terms_order(self, listing: Listing, buyer_id: int, region: str, terms: str, amount_wanted: D):
        """Place, confirm, sign, ship, deliver and accept an order on ``terms`` (a generator: the steps
        take a few days), then record and confirm its invoice. Yields moments; ends with the order id."""
        buyer = self.admin(buyer_id)
        supplier = self.admin(listing.supplier_id)
        listing = Listing.objects.get(pk=listing.pk)
        price = listing.tiers.order_by("min_quantity").first().unit_price
        qty = max(listing.moq, (amount_wanted / price).quantize(D("1"), rounding=ROUND_DOWN))
        qty = min(qty, listing.available_quantity)
        order = trade.place_order_from_listing(
            buyer,
            listing.pk,
            quantity=str(qty),
            delivery_region=region,
            payment_terms=terms,
            note="年度框架采购，按账期结算。",
        )
        yield self.now() + timedelta(hours=3)
        trade.confirm_order(self.admin(listing.supplier_id), order.pk)
        yield self.now() + timedelta(hours=20)
        for user in (supplier, buyer):
            contract = trade.current_contract(Order.objects.get(pk=order.pk))
            trade.sign_contract(
                user,
                order.pk,
                password=user._demo_signing,
                content_hash=contract.content_hash,
            )
            yield self.now() + timedelta(hours=2)
        yield self.now() + timedelta(days=1)
        trade.ship_order(
            supplier,
            order.pk,
            carrier="顺丰速运",
            waybill=f"SF{timezone.localdate():%y%m%d}9{self.seq():06d}",
            quantity=str(qty),
            note="",
        )
        yield self.now() + timedelta(days=2)
        trade.record_delivery(buyer, order.pk)
        yield self.now() + timedelta(hours=20)
        order = Order.objects.get(pk=order.pk)
        pack = self.tea.pack
        grades = list(pack.category(order.category).grades) or [g.key for g in pack.grades]
        grade = order.spec.get("grade")
        if isinstance(grade, list) or grade not in grades:
            grade = grades[0]
        trade.accept_order(
            buyer, order.pk, accepted_quantity=str(qty), quality_grade=grade, note="验收合格。"
        )
        yield self.now() + timedelta(hours=22)
        order = Order.objects.get(pk=order.pk)
        total = order.accepted_amount
        amount = (total / D("1.13")).quantize(D("0.01"))
        invoice = trade.record_invoice(
            supplier,
            order.pk,
            invoice_type="digital_special",
            code="",
            number=f"{timezone.localdate():%y}35{9 * 10**15 + self.seq():016d}",
            issue_date=timezone.localdate(),
            amount=str(amount),
            tax_rate="0.13",
            tax=str(total - amount),
            total=str(total),
        )
        yield self.now() + timedelta(hours=5)
        trade.confirm_invoice(buyer, invoice.pk)
        self.last_order = order.pk

    def voucher_of(self, order_id: int):
        """The supplier registers the receivable; the core enterprise's admin confirms it (password)."""
        order = Order.objects.get(pk=order_id)
        receivable = finance.register_receivable(self.admin(order.supplier_id), order.pk)
        yield self.now() + timedelta(hours=20)
        debtor = self.admin(order.buyer_id)
        self.last_voucher = finance.confirm_receivable(debtor, receivable.pk, password=debtor._demo_signing)

    def now(self) -> datetime:
        return timezone.now()

    def split(self, voucher: Voucher, shares: list[D]) -> list[Voucher]:
        amounts = [(voucher.amount * s).quantize(D("0.01")) for s in shares]
        amounts.append(voucher.amount - sum(amounts))
        parts = finance.split_voucher(
            self.admin(voucher.holder_id), voucher.pk, amounts=[str(a) for a in amounts]
        )
        return sorted(parts, key=lambda p: p.pk)

    def hand_over(self, part: Voucher, to_id: int) -> None:
        part = Voucher.objects.get(pk=part.pk)
        finance.transfer_voucher(self.admin(part.holder_id), part.pk, to_enterprise=to_id)
        finance.accept_voucher_transfer(self.admin(to_id), part.pk)

    def apply(self, part: Voucher, product: str, note: str = "") -> FinancingApplication:
        part = Voucher.objects.get(pk=part.pk)  # its holder now
        holder = self.admin(part.holder_id)
        return lending.create_application(
            holder, product=self.products[product].pk, voucher=part.pk, note=note
        )

    def submit(self, app: FinancingApplication) -> None:
        lending.submit_application(self.admin(app.applicant_id), app.pk)

    # ---- the story

    def story(self):
        bank, tea, lender = self.bank, self.tea, self.lender
        # -- the lender: a checker, two products, credit lines
        self.checker = self.new_login("lender2")
        invitation = registry.invite_user(lender, bank.pk, role="staff", note="授信审批复核岗")
        registry.accept_invitation(self.checker, invitation.token)
        forget(lender)
        forget(self.checker)
        self.products["360"] = lending.create_product(
            lender,
            lender=bank.pk,
            name="产链e贴·数字债权凭证贴现（实际/360）",
            kind="discount",
            day_count="act_360",
            annual_rate="0.0435",
            fee_rate="0.001",
            max_tenor_days=180,
            min_amount="1000",
            max_amount="5000000",
            clusters=[tea.pk],
        )
        self.products["365"] = lending.create_product(
            lender,
            lender=bank.pk,
            name="茶链快贴·普惠贴现（实际/365）",
            kind="discount",
            day_count="act_365",
            annual_rate="0.0395",
            fee_rate="0",
            max_tenor_days=365,
            min_amount="1000",
            max_amount="3000000",
            clusters=[tea.pk],
        )
        # -- who: the core enterprise (largest buyer so far), its next supplier, a cooperative
        bought = (
            Order.objects.filter(cluster=tea)
            .exclude(status__in=[OrderStatus.CREATED, OrderStatus.CANCELLED])
            .values("buyer_id")
            .annotate(total=Sum("amount"))
            .order_by("-total", "buyer_id")
        )
        self.core = bought[0]["buyer_id"]
        core_region = self._region(self.core)
        other = (
            Order.objects.filter(cluster=tea, buyer_id=self.core)
            .exclude(supplier_id=self.s1.pk)
            .exclude(status__in=[OrderStatus.CREATED, OrderStatus.CANCELLED])
            .values("supplier_id")
            .annotate(n=Count("id"))
            .order_by("-n", "supplier_id")
        )
        self.s1b = next(
            (r["supplier_id"] for r in other if self._listing(r["supplier_id"]) is not None), None
        )
        published = Listing.objects.filter(cluster=tea, status=ListingStatus.PUBLISHED).exclude(
            supplier_id__in=[self.s1.pk, self.core]
        )
        coop_listing = (
            published.filter(supplier__name__contains="合作社").order_by("id").first()
            or published.order_by("id").first()
        )
        self.t2 = coop_listing.supplier_id
        until = timezone.localdate() + timedelta(days=360)
        for ent, limit in ((self.s1.pk, "800000"), (self.t2, "300000"), (self.core, "5000000")) + (
            ((self.s1b, "500000"),) if self.s1b else ()
        ):
            lending.open_credit_line(lender, lender=bank.pk, enterprise=ent, limit=limit, expires_on=until)
        yield self.at(STORY_DAYS - 2)

        # -- tier 2 sells to tier 1 (so tier 1 may pay it with vouchers); settled by transfer when due
        yield from self.terms_order(coop_listing, self.s1.pk, "350524", "terms_30", D("30000"))
        tier2_order = self.last_order
        # -- the first voucher: 30 days, it matures and is paid before today
        yield self.at(STORY_DAYS - 6)
        yield from self.terms_order(self._listing(self.s1.pk), self.core, core_region, "terms_30", D("90000"))
        yield from self.voucher_of(self.last_order)
        old = self.last_voucher
        yield self.now() + timedelta(days=1)
        keep_a, keep_b, to_t2 = self.split(old, [D("0.40"), D("0.25")])
        yield self.now() + timedelta(hours=4)
        self.hand_over(to_t2, self.t2)
        yield self.now() + timedelta(days=1)
        lending.grant_consent(
            self.s1_user,
            enterprise=self.s1.pk,
            lender=bank.pk,
            cluster=tea.pk,
            scope=ALL_SCOPES,
            valid_until=timezone.localdate() + timedelta(days=365),
        )
        yield self.now() + timedelta(days=1)
        a1 = self.apply(keep_a, "360", note="补充春茶收购流动资金。")
        self.submit(a1)
        yield self.now() + timedelta(days=1)
        lending.start_review(lender, a1.pk)
        yield self.now() + timedelta(hours=5)
        lending.approve_application(lender, a1.pk)
        yield self.now() + timedelta(hours=20)
        lending.check_application(self.checker, a1.pk)
        yield self.now() + timedelta(hours=3)
        lending.disburse_application(lender, a1.pk, bank_reference=f"MNB{timezone.localdate():%Y%m%d}001")
        lending.record_registry_number(lender, a1.pk, number=f"{timezone.localdate():%Y%m%d}{a1.pk:012d}")
        yield self.now() + timedelta(days=2)
        a2 = self.apply(keep_b, "365")
        self.submit(a2)
        yield self.now() + timedelta(days=1)
        lending.start_review(lender, a2.pk)
        yield self.now() + timedelta(days=1)
        lending.approve_application(lender, a2.pk)  # the checker never gets to it: it expires at maturity
        # tier 1 pays its own supplier's order on the due day (the voucher part was for another order)
        order = Order.objects.get(pk=tier2_order)
        yield max(
            self.now(), datetime.combine(order.due_date, time(10, 0), tzinfo=timezone.get_current_timezone())
        )
        trade.confirm_transfer(
            self.operator,
            order.pk,
            amount=str(order.accepted_amount),
            bank_reference=f"{timezone.localdate():%Y%m%d}77{self.seq():08d}",
            received_on=timezone.localdate(),
        )
        # -- maturity: the daily job, then the issuer's transfer confirmed by the operator
        tz = timezone.get_current_timezone()
        yield max(self.now(), datetime.combine(old.maturity_date, time(0, 30), tzinfo=tz))
        lending.expire_applications()
        yield datetime.combine(old.maturity_date + timedelta(days=1), time(10, 15), tzinfo=tz)
        lending.pay_voucher(
            self.operator,
            old.pk,
            amount=str(old.amount),
            bank_reference=f"{timezone.localdate():%Y%m%d}88{self.seq():08d}",
            received_on=timezone.localdate(),
        )

        # -- the young vouchers: 90 days from the persona supplier, 60 days from the next supplier
        yield self.at(33)
        yield from self.terms_order(
            self._listing(self.s1.pk), self.core, core_region, "terms_90", D("160000")
        )
        yield from self.voucher_of(self.last_order)
        young = self.last_voucher
        listing = self._listing(self.s1b) if self.s1b else None
        if listing is not None:  # the core enterprise's next supplier: a voucher it keeps whole
            yield self.now() + timedelta(days=1)
            yield from self.terms_order(listing, self.core, core_region, "terms_60", D("60000"))
            yield from self.voucher_of(self.last_order)
        yield self.now() + timedelta(days=1)
        parts = self.split(young, YOUNG_SHARES)
        p_draft, p_sub, p_rev, p_appr, p_chk, p_rej, p_wd, p_t2a, p_t2b, _kept = parts
        yield self.now() + timedelta(hours=3)
        self.hand_over(p_t2a, self.t2)
        yield self.now() + timedelta(hours=3)
        self.hand_over(p_t2b, self.t2)
        yield self.now() + timedelta(days=1)
        # tier 2: consent for one asset only, a discount disbursed
        lending.grant_consent(
            self.admin(self.t2),
            enterprise=self.t2,
            lender=bank.pk,
            cluster=tea.pk,
            scope=["asset", "fulfilment", "risk"],
            valid_until=timezone.localdate() + timedelta(days=120),
            voucher=p_t2a.pk,
        )
        t2app = self.apply(p_t2a, "365", note="收购鲜叶资金周转。")
        self.submit(t2app)
        yield self.now() + timedelta(days=1)
        lending.start_review(self.checker, t2app.pk)
        yield self.now() + timedelta(hours=6)
        lending.approve_application(self.checker, t2app.pk)
        yield self.now() + timedelta(hours=18)
        lending.check_application(lender, t2app.pk)
        yield self.now() + timedelta(hours=2)
        lending.disburse_application(lender, t2app.pk, bank_reference=f"MNB{timezone.localdate():%Y%m%d}002")
        # tier 1: one application in each state before disbursement
        yield self.at(17)
        wd = self.apply(p_wd, "360")
        self.submit(wd)
        yield self.now() + timedelta(days=1)
        lending.withdraw_application(self.s1_user, wd.pk)
        rej = self.apply(p_rej, "360", note="申请提高贴现额度。")
        self.submit(rej)
        yield self.now() + timedelta(days=1)
        lending.start_review(lender, rej.pk)
        yield self.now() + timedelta(hours=4)
        lending.reject_application(
            lender, rej.pk, reason="该笔凭证拆分金额与采购计划不符，请补充说明后重新申请。"
        )
        yield self.at(12)
        chk = self.apply(p_chk, "360")
        self.submit(chk)
        yield self.now() + timedelta(hours=5)
        lending.start_review(lender, chk.pk)
        yield self.now() + timedelta(hours=20)
        lending.approve_application(lender, chk.pk, annual_rate="0.0420")
        yield self.now() + timedelta(hours=20)
        lending.check_application(self.checker, chk.pk)
        yield self.at(8)
        appr = self.apply(p_appr, "365")
        self.submit(appr)
        yield self.now() + timedelta(hours=20)
        lending.start_review(lender, appr.pk)
        yield self.now() + timedelta(hours=5)
        lending.approve_application(lender, appr.pk)
        yield self.at(5)
        rev = self.apply(p_rev, "360")
        self.submit(rev)
        yield self.now() + timedelta(days=1)
        lending.start_review(self.checker, rev.pk)
        yield self.at(3)
        sub = self.apply(p_sub, "365")
        self.submit(sub)
        yield self.at(1)
        self.apply(p_draft, "360", note="草稿：待补充用款计划。")

    def _region(self, enterprise_id: int) -> str:
        from chanlian.registry.models import Enterprise

        region = Enterprise.objects.get(pk=enterprise_id).region_id
        return region[:4] + "03" if region.endswith("00") else region

    def _listing(self, supplier_id: int) -> Listing | None:
        """The supplier's published listing with the most stock (the same choice for the same history)."""
        return (
            Listing.objects.filter(cluster=self.tea, supplier_id=supplier_id, status=ListingStatus.PUBLISHED)
            .order_by("-available_quantity", "id")
            .first()
        )


def schedule(sim, *, tea, bank, lender_user, operator_user, supplier, supplier_user, new_login, persona_pw):
    """Put the finance story on the history's event loop (before it runs); returns its handle."""
    demo = FinanceDemo(
        tea=tea,
        bank=bank,
        lender_user=lender_user,
        operator_user=operator_user,
        supplier=supplier,
        supplier_user=supplier_user,
        new_login=new_login,
        persona_pw=persona_pw,
    )
    demo.end = sim.end
    start = sim.end - timedelta(days=STORY_DAYS)
    sim.start(demo.story(), start)
    return demo


def summary() -> dict:
    """What the finance demo made, for the demo's summary lines."""
    states = dict(
        FinancingApplication.objects.values_list("status").annotate(n=Count("id")).order_by("status")
    )
    return {
        "vouchers": Voucher.objects.filter(parent__isnull=True).count(),
        "parts": Voucher.objects.filter(parent__isnull=False).count(),
        "transfers": VoucherTransfer.objects.filter(status="accepted").count(),
        "paid": VoucherPayment.objects.count(),
        "products": LenderProduct.objects.count(),
        "credit_lines": CreditLine.objects.count(),
        "applications": states,
        "every_state": set(states) == set(FinancingStatus.values),
    }


def summary_line(s: dict) -> str:
    """One line like the demo's others."""
    apps = s["applications"]
    return (
        f"Supply-chain finance: {s['vouchers']} vouchers issued ({s['parts']} parts from splits, "
        f"{s['transfers']} transfers accepted, {s['paid']} paid at maturity), {s['products']} lender "
        f"products, {s['credit_lines']} credit lines, {sum(apps.values())} financing applications ("
        + ", ".join(f"{k} {v}" for k, v in sorted(apps.items()))
        + "); the lender's checker logs in as lender2."
    )
