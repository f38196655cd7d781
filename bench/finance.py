"""Supply-chain finance at scale, on PostgreSQL.

1. **Risk report** (``finance.risk.risk_report``) of a supplier with 10,000 orders (24 months of sales to
   60 buyers: shipments with delivery dates, disputes, cancellations) and an asset — a voucher of its
   buyer, confirmed through the real services — whose debtor has 2,000 orders on payment terms of its
   own, paid on time, late or overdue (each payment with its balanced ledger entry). 200 reports after 5
   warm-ups, with and without the asset. Target (issue #5): p95 ≤ 200 ms. The floor, same run, same
   connection: the hand-written SQL aggregates of the same figures (sales, purchases, buyer
   concentration, the debtor's terms payments, its vouchers) plus, for the asset, the four-flow check's
   statements replayed as captured; the benchmark asserts that the floor's figures equal the report's.

2. **Voucher moves** through the services: ``BENCH_WORKERS`` processes (default 4), each acting for its
   own holder, repeat *split* the voucher in two (0.01 + the rest) → *transfer* the 0.01 part to the
   holder's own supplier → the supplier *accepts*; every call a service transaction with its events,
   holders and audit entry. First ``BENCH_VOUCHER_WARMUP`` seconds (default 5) of the same, not timed, so
   the tables hold history; then ``settle`` (vacuum, analyse, checkpoint) before each timed run.
   Throughput in service calls per second over ``BENCH_VOUCHER_SECONDS`` (default 20). Target (issue #5):
   1,000 splits/transfers per second. The floor: the same statements written with psycopg by the same
   number of processes, one transaction each — the one locking ``SELECT … FOR UPDATE`` with the move's
   checks as subqueries, the fresh ids and the audit chain's head (locked after the voucher), then every
   write (one ``INSERT`` per table, the updates by primary key, the audit entry with its sha256 link and
   the head's move) as one statement of data-modifying CTEs: four statements a move, ``BEGIN``/``COMMIT``
   included, as the services (``tests/finance/test_voucher_statements.py`` counts theirs).

    .venv/bin/python bench/finance.py              # = python3 dev.py bench finance
    BENCH_ORDERS=2000 BENCH_VOUCHER_SECONDS=5 .venv/bin/python bench/finance.py
    BENCH_PARTS=moves .venv/bin/python bench/finance.py   # only part 2 (or BENCH_PARTS=risk)
    BENCH_PROFILE=1 …                              # also a cProfile of 50 reports
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import multiprocessing
import os
import random
import statistics
import sys
import time
from decimal import Decimal

from common import (
    audit_chains,
    floor_audit_heads,
    floor_audit_parts,
    floor_fused,
    floor_head_sql,
    percentile,
    report,
    setup_database,
    timed,
)

N_ORDERS = int(os.environ.get("BENCH_ORDERS", "10000"))
N_DEBTOR_ORDERS = int(os.environ.get("BENCH_DEBTOR_ORDERS", "2000"))
N_BUYERS = int(os.environ.get("BENCH_BUYERS", "60"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "200"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
SECONDS = float(os.environ.get("BENCH_VOUCHER_SECONDS", "20"))
WARMUP = float(os.environ.get("BENCH_VOUCHER_WARMUP", "5"))  # seconds of history through the services
TARGET_MS, TARGET_RATE = 200.0, 1000.0
DB_NAME = os.environ.get("BENCH_DB", "bench_risk")
PARTS = set(os.environ.get("BENCH_PARTS", "risk,moves").split(","))


# ---------------------------------------------------------------------------------------------- data


def build_world():
    """The test personas (real services) and a voucher of the buyer held by the supplier."""
    from tests.finance.helpers import confirmed_voucher
    from tests.personas import build_world as personas

    world = personas()
    voucher = confirmed_voucher(world)
    return world, voucher


def generate_orders(world, rng: random.Random) -> None:
    """``N_ORDERS`` sales of the supplier and ``N_DEBTOR_ORDERS`` terms purchases of the debtor, with
    shipments, disputes, payments and their ledger entries, written with ``bulk_create``."""
    from django.utils import timezone

    from chanlian.ledger.models import JournalEntry, JournalLine
    from chanlian.ledger.services import open_account
    from chanlian.registry.models import Enterprise
    from chanlian.registry.uscc import make
    from chanlian.trade.models import Dispute, Order, Payment, Shipment

    t = time.perf_counter()
    tea = world.clusters["tea"]
    supplier, debtor = world.enterprises["supplier"], world.enterprises["buyer"]
    actor = world.users["buyer"]
    counties = ["310115", "110105", "440106", "330106", "510107", "420106", "370102", "610113"]
    buyers = Enterprise.objects.bulk_create(
        [
            Enterprise(
                name=f"茶叶贸易有限公司{i + 1}",
                uscc=make(counties[i % 8], f"{70000 + i:08d}"),
                region_id=counties[i % 8],
            )
            for i in range(N_BUYERS)
        ]
    )
    today = timezone.localdate()

    def at(day: dt.date) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(day, dt.time(9 + rng.randrange(9), rng.randrange(60))))

    weights = [1.0 / (k + 1) for k in range(N_BUYERS)]  # a few large buyers, a long tail
    orders, deliveries, disputes = [], [], []
    for i in range(N_ORDERS):
        placed = today - dt.timedelta(days=rng.randrange(730))
        amount = Decimal(rng.randrange(2_000_00, 400_000_00)) / 100
        due = placed + dt.timedelta(days=rng.randrange(5, 20))
        roll = rng.random()
        status = (
            "closed"
            if roll < 0.8
            else "settled"
            if roll < 0.85
            else "cancelled"
            if roll < 0.88
            else "created"
        )
        age = (today - placed).days
        if age < 30 and status in ("closed", "settled"):
            status = rng.choice(["confirmed", "shipped", "closed"])
        delivered = None
        if status in ("closed", "settled"):
            delivered = min(
                today, due + dt.timedelta(days=rng.choice([-3, -2, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 6]))
            )
        orders.append(
            Order(
                cluster=tea,
                buyer=rng.choices(buyers, weights)[0],
                supplier=supplier,
                origin="listing",
                reference=f"CB{i:08d}",
                category="raw_tea",
                title="2026秋茶 清香型铁观音毛茶",
                quantity=Decimal(100),
                unit="kg",
                unit_price=amount / 100,
                amount=amount,
                delivery_region_id=counties[i % 8],
                delivery_date=due,
                payment_terms="escrow",
                fee_rate=Decimal("0.0050"),
                status=status,
                accepted_amount=amount if status in ("closed", "settled") else None,
                placed_by=actor,
                placed_at=at(placed),
                settled_at=at(min(today, delivered + dt.timedelta(days=2))) if delivered else None,
            )
        )
        deliveries.append(delivered)
    Order.objects.bulk_create(orders, batch_size=2000)
    for o, delivered in zip(orders, deliveries, strict=True):
        if delivered is None:
            continue
        deliveries_row = Shipment(
            order=o,
            cluster=tea,
            carrier="顺丰速运",
            waybill=f"SFB{o.pk:010d}",
            quantity=o.quantity,
            shipped_on=delivered - dt.timedelta(days=2),
            delivered_on=delivered,
            created_by=world.users["supplier"],
        )
        disputes.append(deliveries_row)
    Shipment.objects.bulk_create(disputes, batch_size=2000)
    Dispute.objects.bulk_create(
        [
            Dispute(
                order=o,
                cluster=tea,
                opened_by=actor,
                reason="含水量超标",
                decision=rng.choice(["release", "refund", "split"]),
            )
            for o, d in zip(orders, deliveries, strict=True)
            if d is not None and rng.random() < 0.02
        ]
    )
    # the debtor's purchases on terms from the same buyers-turned-suppliers
    terms, paid = [], []
    for i in range(N_DEBTOR_ORDERS):
        due = today - dt.timedelta(days=rng.randrange(-60, 365))
        amount = Decimal(rng.randrange(1_000_00, 90_000_00)) / 100
        roll = rng.random()
        received = None
        if due < today or roll < 0.3:
            if roll < 0.85:
                received = due - dt.timedelta(days=rng.randrange(0, 5))
            elif roll < 0.95:
                received = due + dt.timedelta(days=rng.randrange(1, 20))
        if received is not None and received > today:
            received = today
        o = Order(
            cluster=tea,
            buyer=debtor,
            supplier=buyers[i % N_BUYERS],
            origin="listing",
            reference=f"CT{i:08d}",
            category="raw_tea",
            title="铁观音毛茶",
            quantity=Decimal(100),
            unit="kg",
            unit_price=amount / 100,
            amount=amount,
            delivery_region_id="310115",
            delivery_date=due - dt.timedelta(days=32),
            payment_terms="terms_30",
            fee_rate=Decimal("0.0050"),
            status="closed" if received else "accepted",
            accepted_amount=amount,
            due_date=due,
            placed_by=actor,
            placed_at=at(due - dt.timedelta(days=40)),
            accepted_at=at(due - dt.timedelta(days=30)),
        )
        terms.append(o)
        paid.append(received)
    Order.objects.bulk_create(terms, batch_size=2000)
    bank = open_account(tea, "bank_clearing")
    entries, lines, payments = [], [], []
    cash = {}
    for o, received in zip(terms, paid, strict=True):
        if received is None:
            continue
        if o.supplier_id not in cash:
            cash[o.supplier_id] = open_account(tea, "cash", o.supplier)
        entry = JournalEntry(
            cluster=tea,
            kind="terms.settle",
            reference=f"order:{o.pk}",
            posted_by=actor,
            posted_at=at(received),
        )
        entries.append(entry)
    JournalEntry.objects.bulk_create(entries, batch_size=2000)
    it = iter(entries)
    for o, received in zip(terms, paid, strict=True):
        if received is None:
            continue
        entry = next(it)
        lines += [
            JournalLine(entry=entry, cluster=tea, account=bank, amount=o.accepted_amount),
            JournalLine(entry=entry, cluster=tea, account=cash[o.supplier_id], amount=-o.accepted_amount),
        ]
        payments.append(
            Payment(
                order=o,
                cluster=tea,
                purpose="terms",
                method="manual_transfer",
                amount=o.accepted_amount,
                received_on=received,
                entry=entry,
                created_by=actor,
            )
        )
    JournalLine.objects.bulk_create(lines, batch_size=4000)
    Payment.objects.bulk_create(payments, batch_size=2000)
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    print(
        f"generated {N_ORDERS} sales of {supplier.name} to {N_BUYERS} buyers ({len(disputes)} delivered), "
        f"{N_DEBTOR_ORDERS} terms purchases of {debtor.name} ({len(payments)} paid) in "
        f"{time.perf_counter() - t:.1f} s",
        flush=True,
    )


# ---------------------------------------------------------------------------------------- risk: floor

FLOOR_SALES = """
WITH sh AS (
    SELECT s.order_id, max(s.delivered_on) AS d
    FROM trade_shipment s JOIN trade_order o ON o.id = s.order_id
    WHERE o.supplier_id = %(e)s AND s.delivered_on <= %(as_of)s
    GROUP BY s.order_id
)
SELECT count(*), min(o.placed_at),
       count(*) FILTER (WHERE o.settled_at >= %(s12)s AND o.settled_at < %(end)s),
       sum(coalesce(o.accepted_amount, 0)) FILTER (WHERE o.settled_at >= %(s12)s AND o.settled_at < %(end)s),
       sum(o.amount) FILTER (WHERE o.placed_at >= %(s3)s),
       sum(o.amount) FILTER (WHERE o.placed_at >= %(s6)s AND o.placed_at < %(s3)s),
       count(*) FILTER (WHERE o.placed_at >= %(s3)s),
       count(*) FILTER (WHERE o.placed_at >= %(s6)s AND o.placed_at < %(s3)s),
       count(sh.d),
       count(*) FILTER (WHERE sh.d <= o.delivery_date),
       count(*) FILTER (WHERE sh.d IS NULL AND o.delivery_date < %(as_of)s),
       count(dp.id) FILTER (WHERE dp.opened_at < %(end)s AND sh.d IS NOT NULL),
       count(dp.id) FILTER (WHERE dp.opened_at < %(end)s AND sh.d IS NOT NULL AND dp.decision = 'refund')
FROM trade_order o
LEFT JOIN sh ON sh.order_id = o.id
LEFT JOIN trade_dispute dp ON dp.order_id = o.id
WHERE o.supplier_id = %(e)s AND o.placed_at < %(end)s AND o.status NOT IN ('created', 'cancelled')
"""

FLOOR_PURCHASES = """
SELECT count(*), min(placed_at) FROM trade_order
WHERE buyer_id = %(e)s AND placed_at < %(end)s AND status NOT IN ('created', 'cancelled')
"""

FLOOR_CONCENTRATION = """
SELECT t.buyer_id, e.name, t.s, count(*) OVER (), sum(t.s * t.s) OVER (), sum(t.s) OVER ()
FROM (SELECT buyer_id, sum(amount) AS s FROM trade_order
      WHERE supplier_id = %(e)s AND placed_at >= %(s12)s AND placed_at < %(end)s
        AND status NOT IN ('created', 'cancelled')
      GROUP BY buyer_id) t
JOIN registry_enterprise e ON e.id = t.buyer_id
ORDER BY t.s DESC, t.buyer_id LIMIT 1
"""

FLOOR_DEBTOR = """
SELECT count(*) FILTER (WHERE p.received_on <= %(as_of)s),
       count(*) FILTER (WHERE p.received_on <= %(as_of)s AND p.received_on <= o.due_date),
       count(*) FILTER (WHERE p.received_on <= %(as_of)s AND p.received_on > o.due_date),
       max(p.received_on - o.due_date)
           FILTER (WHERE p.received_on <= %(as_of)s AND p.received_on > o.due_date),
       count(*) FILTER (WHERE o.due_date < %(as_of)s
                        AND (p.received_on > %(as_of)s OR (p.received_on IS NULL AND o.status = 'accepted'))),
       sum(o.accepted_amount) FILTER (WHERE o.due_date < %(as_of)s
                        AND (p.received_on > %(as_of)s OR (p.received_on IS NULL AND o.status = 'accepted'))),
       min(o.due_date) FILTER (WHERE o.due_date < %(as_of)s
                        AND (p.received_on > %(as_of)s OR (p.received_on IS NULL AND o.status = 'accepted')))
FROM trade_order o
LEFT JOIN trade_payment p ON p.order_id = o.id AND p.purpose = 'terms'
WHERE o.buyer_id = %(d)s AND o.due_date IS NOT NULL AND o.accepted_at < %(end)s
  AND o.payment_terms <> 'escrow'
"""

FLOOR_VOUCHERS = """
SELECT count(*), sum(amount), count(*) FILTER (WHERE maturity_date < %(as_of)s),
       sum(amount) FILTER (WHERE maturity_date < %(as_of)s),
       min(maturity_date) FILTER (WHERE maturity_date < %(as_of)s)
FROM finance_voucher WHERE issuer_id = %(d)s AND issued_at < %(end)s AND status <> ALL(%(done)s)
"""


def floor_params(enterprise_id: int, debtor_id: int, as_of: dt.date) -> dict:
    from chanlian.finance.risk import _VOUCHER_DONE, _start, months_back

    return {
        "e": enterprise_id,
        "d": debtor_id,
        "as_of": as_of,
        "end": _start(as_of + dt.timedelta(days=1)),
        "s12": _start(months_back(as_of, 12) + dt.timedelta(days=1)),
        "s6": _start(months_back(as_of, 6) + dt.timedelta(days=1)),
        "s3": _start(months_back(as_of, 3) + dt.timedelta(days=1)),
        "done": [str(s) for s in _VOUCHER_DONE],
    }


def floor(cur, params: dict, four_flow_sql: list | None) -> dict:
    out = {}
    for name, sql in (
        ("sales", FLOOR_SALES),
        ("purchases", FLOOR_PURCHASES),
        ("concentration", FLOOR_CONCENTRATION),
    ):
        cur.execute(sql, params)
        out[name] = cur.fetchone()
    if four_flow_sql is not None:
        for name, sql in (("debtor", FLOOR_DEBTOR), ("vouchers", FLOOR_VOUCHERS)):
            cur.execute(sql, params)
            out[name] = cur.fetchone()
        for sql, args in four_flow_sql:
            cur.execute(sql, args)
            cur.fetchall()
    return out


def check_floor(rep, got: dict) -> None:
    """The floor computes the same figures as the report (else the comparison would mean nothing)."""
    f = {x.key: x for x in rep.factors}
    sales = got["sales"]
    assert sales[0] == f["trade_history"].inputs["sales_orders"], (sales, f["trade_history"].inputs)
    assert sales[2] == f["trade_history"].inputs["settled_orders_12m"]
    assert (sales[3] or 0) == f["trade_history"].value
    assert (sales[4] or 0) == f["volume_trend"].inputs["last_3_months"]
    assert (sales[5] or 0) == f["volume_trend"].inputs["previous_3_months"]
    assert (sales[8], sales[9], sales[10]) == (
        f["on_time_delivery"].inputs["delivered"],
        f["on_time_delivery"].inputs["delivered_on_time"],
        f["on_time_delivery"].inputs["undelivered_past_date"],
    )
    assert (sales[11], sales[12]) == (
        f["dispute_rate"].inputs["disputed"],
        f["dispute_rate"].inputs["refunded"],
    )
    assert got["purchases"][0] == f["trade_history"].inputs["purchase_orders"]
    conc = got["concentration"]
    assert (conc[0], conc[2], conc[3]) == (
        f["buyer_concentration"].inputs["largest_buyer_id"],
        f["buyer_concentration"].inputs["largest_buyer_sales"],
        f["buyer_concentration"].inputs["buyers"],
    )
    if "debtor" in got:
        debt = got["debtor"]
        inputs = f["debtor_payment"].inputs
        assert (debt[0], debt[1], debt[2], debt[4]) == (
            inputs["paid"],
            inputs["paid_on_time"],
            inputs["paid_late"],
            inputs["overdue_orders"],
        ), (debt, inputs)
        assert (debt[3] if debt[3] is not None else None) == inputs["worst_days_late"]
        assert got["vouchers"][0] == inputs["live_vouchers"]


def bench_risk(world, voucher) -> list[dict]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from chanlian.finance.risk import risk_report
    from chanlian.finance.selectors import four_flow

    supplier, debtor = world.enterprises["supplier"], world.enterprises["buyer"]
    as_of = timezone.localdate()
    rows = []
    with CaptureQueriesContext(connection) as ctx:
        rep = risk_report(supplier.pk, asset=voucher)
    n_queries = len(ctx.captured_queries)
    # the four-flow check's statements with their parameters, to replay them as sent
    four_sql = []

    def capture(execute, sql, params, many, context):
        four_sql.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        four_flow(voucher.receivable.order, voucher.receivable)
    print(
        f"risk report: {n_queries} queries ({len(four_sql)} of them the four-flow check); "
        f"summary {rep.summary.rating}: {rep.summary.explanation}",
        flush=True,
    )
    for factor in rep.factors:
        print(f"  {factor.key:<20} {factor.value!s:>12} {factor.unit:<8} {factor.rating}", flush=True)
    params = floor_params(supplier.pk, debtor.pk, as_of)
    with connection.cursor() as cur:
        check_floor(rep, floor(cur, params, four_sql))
        check_floor(risk_report(supplier.pk), floor(cur, params, None))

        samples = timed(lambda i: risk_report(supplier.pk, asset=voucher), REQUESTS)
        floor_samples = timed(lambda i: floor(cur, params, four_sql), REQUESTS)
        rows.append(
            report(f"risk_report, {N_ORDERS} orders, with the asset", samples, floor_samples, TARGET_MS)
        )
        samples = timed(lambda i: risk_report(supplier.pk), REQUESTS)
        floor_samples = timed(lambda i: floor(cur, params, None), REQUESTS)
        rows.append(report(f"risk_report, {N_ORDERS} orders, no asset", samples, floor_samples, TARGET_MS))
    if os.environ.get("BENCH_PROFILE"):
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        for _ in range(50):
            risk_report(supplier.pk, asset=voucher)
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
    return rows


# ------------------------------------------------------------------------------------- voucher moves


def prepare_chains(world, voucher, workers: int) -> list[dict]:
    """For each worker: a holder H (a supplier of the voucher's holder) holding a part of the voucher —
    split and passed to it through the services — and H's own supplier T; plus a second part per worker
    held by H for the floor. Orders between them are rows in ``confirmed`` (what makes a supplier)."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from chanlian.finance import services
    from chanlian.registry import services as registry
    from chanlian.registry.uscc import make
    from chanlian.trade.models import Order

    User = get_user_model()
    holder_user = world.users["supplier"]
    tea = world.clusters["tea"]
    n = 2 * workers
    each = (voucher.amount / n).quantize(Decimal("0.01"))
    amounts = [each] * (n - 1) + [voucher.amount - each * (n - 1)]
    parts = services.split_voucher(holder_user, voucher.pk, amounts=[str(a) for a in amounts])
    chains = []

    def company(tag: str, i: int):
        user = User.objects.create_user(f"bench_{tag}{i}", password="bench-password-1")
        e = registry.register_enterprise(
            user,
            uscc=make("350524", f"{80000 + i * 2 + (tag == 't'):08d}"),
            name=f"安溪县{tag}{i}茶厂",
            region="350524",
        )
        user.__dict__.pop("_chanlian_principal", None)
        return user, e

    def sells(supplier, buyer, k):
        Order.objects.create(
            cluster=tea,
            buyer=buyer,
            supplier=supplier,
            origin="listing",
            reference=f"CV{k:08d}",
            category="raw_tea",
            title="毛茶",
            quantity=Decimal(10),
            unit="kg",
            unit_price=Decimal(100),
            amount=Decimal(1000),
            delivery_region_id="350524",
            delivery_date=timezone.localdate(),
            payment_terms="escrow",
            fee_rate=Decimal("0.0050"),
            status="confirmed",
            placed_by=holder_user,
            placed_at=timezone.now(),
        )

    for k in range(workers):
        h_user, h = company("h", k)
        t_user, t = company("t", k)
        sells(h, world.enterprises["supplier"], 2 * k)
        sells(t, h, 2 * k + 1)
        for part in (parts[2 * k], parts[2 * k + 1]):
            services.transfer_voucher(holder_user, part.pk, to_enterprise=h.pk)
            services.accept_voucher_transfer(h_user, part.pk)
        chains.append(
            {
                "h_user": h_user.pk,
                "t_user": t_user.pk,
                "h": h.pk,
                "t": t.pk,
                "voucher": parts[2 * k].pk,
                "floor_voucher": parts[2 * k + 1].pk,
            }
        )
    return chains


def _service_worker(chain: dict, deadline: float, out) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from chanlian.finance import services
    from chanlian.finance.models import Voucher

    connection.close()
    User = get_user_model()
    h_user, t_user = User.objects.get(pk=chain["h_user"]), User.objects.get(pk=chain["t_user"])
    v = Voucher.objects.get(pk=chain["voucher"])
    calls, lat = 0, []
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        parts = services.split_voucher(h_user, v.pk, amounts=["0.01", str(v.amount - Decimal("0.01"))])
        t1 = time.perf_counter()
        services.transfer_voucher(h_user, parts[0].pk, to_enterprise=chain["t"])
        t2 = time.perf_counter()
        services.accept_voucher_transfer(t_user, parts[0].pk)
        t3 = time.perf_counter()
        lat += [t1 - t0, t2 - t1, t3 - t2]
        calls += 3
        v = parts[1]
    connection.close()
    out.put((calls, lat, chain["h"], v.pk))


EVENT_SQL = (
    "INSERT INTO finance_voucherevent (voucher_id, kind, actor_id, from_enterprise_id, to_enterprise_id, "
    "amount, data, created_at) VALUES "
)


def _floor_worker(chain: dict, dsn: str, deadline: float, out) -> None:
    """The statements the three services issue on PostgreSQL, by hand, one transaction per move
    (docs/benchmarks.md "Finance"): the one locking ``SELECT … FOR UPDATE`` with the move's checks as
    ``EXISTS``/scalar subqueries, the fresh ids (``nextval``) and the audit chain's head (locked after the
    voucher, ``LEFT JOIN LATERAL``); then every write — each table once, multi-row ``INSERT``, ``UPDATE``
    by primary key, the audit entry with its sha256 link and the head's move — as one statement of
    data-modifying CTEs. Four statements a move, ``BEGIN``/``COMMIT`` included — the services' count,
    asserted by ``tests/finance/test_voucher_statements.py``."""
    import secrets

    import psycopg

    crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

    def number():
        return "PZ" + "".join(secrets.choice(crockford) for _ in range(10))

    def audit(head, actor, action, oid, cluster, enterprise, data):
        payload = json.dumps(data, sort_keys=True)
        return floor_audit_parts(head, actor, action, "finance.voucher", oid, cluster, enterprise, payload)

    calls, lat, n_chains = 0, [], audit_chains()
    head_join = floor_head_sql(n_chains, "v.id")
    ids_sql = "(SELECT array_agg(nextval(pg_get_serial_sequence(%s, 'id'))) FROM generate_series(1, %s))"
    with psycopg.connect(dsn) as conn:
        floor_audit_heads(conn)
        vid = chain["floor_voucher"]
        h, t, hu, tu = chain["h"], chain["t"], chain["h_user"], chain["t_user"]
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            numbers = [number(), number()]
            with conn.transaction():  # split
                row = conn.execute(
                    f"SELECT v.*, {ids_sql}, audit_head.id, audit_head.seq, audit_head.hash FROM ("
                    "SELECT id, cluster_id, receivable_id, root_id, issuer_id, holder_id, amount, currency, "
                    "maturity_date, status, "
                    "EXISTS (SELECT 1 FROM finance_financedasset WHERE fingerprint = %s) AS c0, "
                    "EXISTS (SELECT 1 FROM finance_voucher n WHERE n.number IN (%s, %s)) AS c1 "
                    "FROM finance_voucher WHERE id = %s AND holder_id = %s FOR UPDATE) AS v "
                    f"{head_join}",
                    ["finance_voucher", 2, f"voucher:{vid}", *numbers, vid, h],
                ).fetchone()
                ids, head = row[12], row[13:16]
                amounts = (Decimal("0.01"), row[6] - Decimal("0.01"))
                kids = list(zip(ids, amounts, strict=True))
                parts = json.dumps(
                    {
                        "parts": [
                            {"number": n, "amount": str(a)} for n, a in zip(numbers, amounts, strict=True)
                        ]
                    }
                )
                floor_fused(
                    conn,
                    [
                        (
                            "UPDATE finance_voucher SET status = 'split', updated_at = now() WHERE id = %s",
                            [vid],
                        ),
                        (
                            "INSERT INTO finance_voucher (id, number, cluster_id, receivable_id, "
                            "parent_id, root_id, issuer_id, holder_id, amount, currency, maturity_date, "
                            "status, issued_at, updated_at) VALUES "
                            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'held', now(), now()), "
                            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'held', now(), now())",
                            [
                                x
                                for (k, a), n in zip(kids, numbers, strict=True)
                                for x in (k, n, row[1], row[2], vid, row[3], row[4], h, a, row[7], row[8])
                            ],
                        ),
                        (
                            "INSERT INTO finance_voucherholder (voucher_id, enterprise_id, since) "
                            "VALUES (%s, %s, now()), (%s, %s, now())",
                            [kids[0][0], h, kids[1][0], h],
                        ),
                        (
                            EVENT_SQL + "(%s, 'split', %s, %s, %s, %s, %s, now()), "
                            "(%s, 'split_from', %s, %s, %s, %s, '{}', now()), "
                            "(%s, 'split_from', %s, %s, %s, %s, '{}', now())",
                            [vid, hu, h, h, row[6], parts] + [x for k, a in kids for x in (k, hu, h, h, a)],
                        ),
                        *audit(
                            head, hu, "voucher.split", vid, row[1], h, {"parts": [str(a) for _, a in kids]}
                        ),
                    ],
                )
            t1 = time.perf_counter()
            small = kids[0][0]
            with conn.transaction():  # transfer
                row = conn.execute(
                    f"SELECT v.*, {ids_sql}, audit_head.id, audit_head.seq, audit_head.hash FROM ("
                    "SELECT id, cluster_id, holder_id, status, "
                    "EXISTS (SELECT 1 FROM finance_financedasset WHERE fingerprint = %s) AS c0, "
                    "EXISTS (SELECT 1 FROM registry_enterprise WHERE id = %s AND kind = 'company') AS c1, "
                    "EXISTS (SELECT 1 FROM trade_order o WHERE o.buyer_id = finance_voucher.holder_id "
                    "AND o.supplier_id = %s AND o.status NOT IN ('created', 'cancelled')) AS c2 "
                    "FROM finance_voucher WHERE id = %s AND holder_id = %s FOR UPDATE) AS v "
                    f"{head_join}",
                    ["finance_vouchertransfer", 1, f"voucher:{small}", t, t, small, h],
                ).fetchone()
                tr, head = row[7][0], row[8:11]
                floor_fused(
                    conn,
                    [
                        (
                            "INSERT INTO finance_vouchertransfer (id, voucher_id, cluster_id, "
                            "from_enterprise_id, to_enterprise_id, status, reason, offered_by_id, "
                            "offered_at) "
                            "VALUES (%s, %s, %s, %s, %s, 'pending', '', %s, now())",
                            [tr, small, row[1], h, t, hu],
                        ),
                        (
                            "UPDATE finance_voucher SET status = 'transferring', updated_at = now() "
                            "WHERE id = %s",
                            [small],
                        ),
                        (
                            EVENT_SQL + "(%s, 'transfer_offered', %s, %s, %s, 0.01, %s, now())",
                            [small, hu, h, t, json.dumps({"transfer": tr})],
                        ),
                        *audit(
                            head, hu, "voucher.transfer_offered", small, row[1], h, {"to": t, "transfer": tr}
                        ),
                    ],
                )
            t2 = time.perf_counter()
            with conn.transaction():  # accept
                row = conn.execute(
                    "SELECT v.*, pending.id, pending.to_enterprise_id, audit_head.id, audit_head.seq, "
                    "audit_head.hash FROM (SELECT id, cluster_id, holder_id, status FROM finance_voucher "
                    "WHERE id = %s AND EXISTS (SELECT 1 FROM finance_vouchertransfer x "
                    "WHERE x.voucher_id = finance_voucher.id AND x.status = 'pending' "
                    "AND x.to_enterprise_id = %s) FOR UPDATE) AS v "
                    "LEFT JOIN LATERAL (SELECT p.id, p.to_enterprise_id FROM finance_vouchertransfer p "
                    "WHERE p.voucher_id = v.id AND p.status = 'pending' ORDER BY p.id LIMIT 1 FOR UPDATE) "
                    f"AS pending ON true {head_join}",
                    [small, t],
                ).fetchone()
                pending, head = row[4], row[6:9]
                floor_fused(
                    conn,
                    [
                        (
                            "UPDATE finance_vouchertransfer SET status = 'accepted', reason = '', "
                            "answered_by_id = %s, answered_at = now() WHERE id = %s",
                            [tu, pending],
                        ),
                        (
                            "INSERT INTO finance_voucherholder (voucher_id, enterprise_id, since) "
                            "VALUES (%s, %s, now()) ON CONFLICT DO NOTHING",
                            [small, t],
                        ),
                        (
                            "UPDATE finance_voucher SET status = 'held', holder_id = %s, updated_at = now() "
                            "WHERE id = %s",
                            [t, small],
                        ),
                        (
                            EVENT_SQL + "(%s, 'transfer_accepted', %s, %s, %s, 0.01, %s, now())",
                            [small, tu, h, t, json.dumps({"transfer": pending, "reason": ""})],
                        ),
                        *audit(
                            head,
                            tu,
                            "voucher.transfer_accepted",
                            small,
                            row[1],
                            t,
                            {"holder": t, "transfer": pending},
                        ),
                    ],
                )
            t3 = time.perf_counter()
            lat += [t1 - t0, t2 - t1, t3 - t2]
            calls += 3
            vid = kids[1][0]
    out.put((calls, lat, chain["h"], vid))


def run_workers(target, chains: list[dict], *extra, seconds: float | None = None, key: str = "voucher"):
    """``target`` in one forked process per chain for ``seconds`` (``SECONDS``); each chain's ``key`` is
    set to the voucher its worker ended with, so a later run goes on from there. Returns the wall time,
    the calls and their latencies."""
    ctx = multiprocessing.get_context("fork")
    gc.collect()
    gc.freeze()  # the parent's objects (the risk report's data) are not the workers' to collect
    out = ctx.Queue()
    deadline = time.perf_counter() + (SECONDS if seconds is None else seconds)
    procs = [ctx.Process(target=target, args=(chain, *extra, deadline, out)) for chain in chains]
    t = time.perf_counter()
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    wall = time.perf_counter() - t
    calls = sum(r[0] for r in results)
    last = {r[2]: r[3] for r in results}
    for chain in chains:
        chain[key] = last[chain["h"]]
    lat = [x * 1000 for r in results for x in r[1]]
    return wall, calls, lat


def settle() -> None:
    """A settled database before each timed run: vacuumed, analysed, a checkpoint taken.

    Measured (session 13): after the risk report's data the services made 656 calls/s against 1,056
    without it. Its ``ANALYZE`` had taken the statistics of the voucher tables while they held a few rows,
    so the moves' prepared statements got *generic* plans that scan them (``UPDATE … WHERE id = $1`` on a
    one-page table is cheapest as a sequential scan), and each move got slower as the tables grew —
    1.70 → 3.33 ms a call over 3,000 moves in one process — until autovacuum analysed them again (a
    minute or more; a timed run is 20 s). The floor, timed after the services on grown tables, did not
    suffer. So both runs now start from the same kind of state: the tables hold the warm-up's history
    (``BENCH_VOUCHER_WARMUP``) when their statistics are taken, as on a platform in use; and autovacuum's
    and the checkpoint's work is done before, not during, a timed run."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("VACUUM (ANALYZE)")
        cur.execute("CHECKPOINT")


def bench_moves(world, voucher) -> dict:
    from django.conf import settings
    from django.db import connections

    from chanlian.core.audit import verify

    chains = prepare_chains(world, voucher, WORKERS)
    db = settings.DATABASES["default"]
    dsn = f"host={db['HOST']} port={db['PORT'] or 5432} user={db['USER']} dbname={db['NAME']}"
    connections.close_all()
    # History first, through the services (not timed): the tables a move reads and writes hold thousands
    # of rows, as on a platform in use, when their statistics are taken (``settle``). The floor, timed
    # after the services, finds their rows too. (Its audit entries are not hashed as ``core.audit``
    # hashes them, so the chain is verified before it runs.)
    run_workers(_service_worker, chains, seconds=WARMUP)
    settle()
    connections.close_all()
    wall, calls, lat = run_workers(_service_worker, chains)
    rate = calls / wall
    print(
        f"services: {calls} calls (split, transfer, accept) by {WORKERS} processes in {wall:.1f} s: "
        f"{rate:7.1f} /s  p50 {statistics.median(lat):5.1f} ms  p95 {percentile(lat, 95):5.1f} ms",
        flush=True,
    )
    ok = verify()
    print(
        f"audit chain after the services: {'intact' if ok.ok else 'BROKEN'} ({ok.checked} entries)",
        flush=True,
    )
    settle()
    connections.close_all()
    fwall, fcalls, flat = run_workers(_floor_worker, chains, dsn, key="floor_voucher")
    frate = fcalls / fwall
    print(
        f"floor psycopg, same rows: {fcalls} moves by {WORKERS} processes in {fwall:.1f} s: {frate:7.1f} /s  "
        f"p50 {statistics.median(flat):5.1f} ms  p95 {percentile(flat, 95):5.1f} ms",
        flush=True,
    )
    print(
        f"ratio services / floor {rate / frate:.2f}; target {TARGET_RATE:g} /s: "
        f"{'OK' if rate >= TARGET_RATE else 'MISSED'}",
        flush=True,
    )
    return {"rate": rate, "floor": frate, "ok": rate >= TARGET_RATE}


def main() -> int:
    backend = setup_database(DB_NAME)
    if backend != "postgresql":
        raise SystemExit("bench/finance.py measures PostgreSQL: run it without BENCH_BACKEND=sqlite")
    rng = random.Random(20261201)
    world, voucher = build_world()
    rows, moves = [], {"ok": True}
    if "risk" in PARTS:
        generate_orders(world, rng)
        rows = bench_risk(world, voucher)
    if "moves" in PARTS:
        moves = bench_moves(world, voucher)
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (1 min), {os.cpu_count()} CPUs", flush=True)
    return 0 if all(r["ok"] for r in rows) and moves["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
