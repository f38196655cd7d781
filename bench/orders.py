"""Order placement over HTTP: ``POST /api/v1/orders/`` against ``chanlian serve`` (gunicorn, the real
server) with 8 concurrent clients, on PostgreSQL.

Data (made at run time in a throw-away database): a tea cluster, suppliers with published listings of
plenty of stock, one buyer company per client thread with its own API token, and ``BENCH_HISTORY``
orders already placed (20,000 rows, default) before the statistics are taken. Each client uses one
HTTP/1.1 connection (reopened when the server closes it: ``chanlian serve`` keeps no connection alive
by default) and places orders from listings, one after another (``{"listing", "quantity",
"delivery_region"}``, ``Authorization: Token …``). Figures: orders/s over the whole run and the
latency of each request as the client sees it (p50/p95).

The floor, measured in the same run: the same database work issued directly with psycopg by 8 threads
— exactly the statements ``place_order_from_listing`` sends, captured with ``CaptureQueriesContext``
and printed: the reads it makes (session user for the token, the principal's rows, the listing with its
cluster and supplier, its tiers, the buyer, the county, the reference check), the order ``INSERT``,
the audit chain's head row locked ``FOR UPDATE``, the audit entry ``INSERT`` with its sha256 link, the
head ``UPDATE``, one transaction per order. Ratio = API
throughput / floor throughput; targets (issue #3): ratio ≥ 0.25 and p95 ≤ 100 ms.

    python3 dev.py bench orders                     # BENCH_ORDERS=3000 BENCH_CLIENTS=8
    BENCH_ORDERS=1000 python3 dev.py bench orders   # smaller
    BENCH_PROFILE=1 …                               # also profile one worker's requests (pyinstrument)
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
from decimal import Decimal

from common import ROOT, audit_chains, floor_audit_append, floor_audit_heads, percentile, setup_database

N_ORDERS = int(os.environ.get("BENCH_ORDERS", "3000"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "8"))
N_LISTINGS = int(os.environ.get("BENCH_LISTINGS", "40"))
HISTORY = int(os.environ.get("BENCH_HISTORY", "20000"))  # orders placed before the run (rows)
WARMUP = int(os.environ.get("BENCH_WARMUP", "10"))  # per client, not counted
PORT = int(os.environ.get("BENCH_PORT", "8767"))
TARGET_RATIO, TARGET_P95_MS = 0.25, 100.0


# ---------------------------------------------------------------------------------------------- data


def generate():
    """A tea cluster with ``N_LISTINGS`` published listings and one buyer (user + token) per client."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from chanlian.registry import services as registry
    from chanlian.registry.uscc import make
    from chanlian.trade import services as trade

    User = get_user_model()
    t = time.perf_counter()
    admin = User.objects.create_user("bench_admin", password="bench-password-1", is_superuser=True)
    op_user = User.objects.create_user("bench_operator", password="bench-password-1")
    operator = registry.register_enterprise(
        op_user, uscc=make("350524", "00000001"), name="安溪县茶产业发展集团有限公司", region="350524"
    )
    tea = registry.create_cluster(
        admin, name="安溪铁观音产业集群", region="350524", pack_key="tea", operator=operator.pk
    )
    suppliers = []
    for i in range(max(1, N_LISTINGS // 4)):
        user = User.objects.create_user(f"bench_supplier{i}", password="bench-password-1")
        e = registry.register_enterprise(
            user,
            uscc=make("350524", f"{100 + i:08d}"),
            name=f"安溪县感德镇第{i + 1}茶厂",
            region="350524",
            cluster=tea.pk,
            chain_roles=["primary_processing"],
        )
        registry.verify_membership(op_user, e.pk, cluster_id=tea.pk)
        user.__dict__.pop("_chanlian_principal", None)
        suppliers.append(user)
    listings = []
    for i in range(N_LISTINGS):
        user = suppliers[i % len(suppliers)]
        listing = trade.create_listing(
            user,
            cluster=tea.pk,
            category="raw_tea",
            spec={
                "grade": ["premium", "grade_1", "grade_2"][i % 3],
                "aroma_type": "qingxiang",
                "harvest_season": "autumn",
                "harvest_year": 2026,
            },
            title=f"2026秋茶 清香型铁观音毛茶 批次{i + 1}",
            unit="kg",
            moq="10",
            available_quantity="10000000",
            lead_time_days=5,
            origin="350524",
            tiers=[
                {"min_quantity": "10", "unit_price": f"{260 + i % 40}.00"},
                {"min_quantity": "500", "unit_price": f"{245 + i % 40}.00"},
            ],
        )
        trade.publish_listing(user, listing.pk)
        listings.append(listing.pk)
    counties = ["310115", "110105", "440106", "330106", "510107", "420106", "370102", "610113"]
    clients = []
    for i in range(CLIENTS):
        user = User.objects.create_user(f"bench_buyer{i}", password="bench-password-1")
        county = counties[i % len(counties)]
        buyer = registry.register_enterprise(
            user, uscc=make(county, f"{9000 + i:08d}"), name=f"茶叶贸易有限公司{i + 1}", region=county
        )
        clients.append(
            {"token": Token.objects.create(user=user).key, "region": county, "user": user, "buyer": buyer.pk}
        )
    history(listings, clients, tea)
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    print(
        f"generated 1 cluster, {len(suppliers)} suppliers, {len(listings)} listings, {CLIENTS} buyers "
        f"in {time.perf_counter() - t:.1f} s",
        flush=True,
    )
    return listings, clients


def history(listings: list[int], clients: list[dict], cluster) -> None:
    """``BENCH_HISTORY`` orders already placed (rows, as a platform in use has), before the statistics
    are taken: analysed while ``trade_order`` is empty, its prepared statements' generic plans may scan
    it, and every order is slower than the last as it grows (measured on the voucher moves, docs/
    benchmarks.md "Finance", session 13)."""
    from django.utils import timezone

    from chanlian.trade.models import Listing, Order

    by_id = {x.pk: x for x in Listing.objects.filter(pk__in=listings)}
    now = timezone.now()
    rows = []
    for i in range(HISTORY):
        listing, client = by_id[listings[i % len(listings)]], clients[i % len(clients)]
        rows.append(
            Order(
                cluster=cluster,
                buyer_id=client["buyer"],
                supplier_id=listing.supplier_id,
                origin="listing",
                listing=listing,
                reference=f"HX{i:08d}",
                category=listing.category,
                title=listing.title,
                spec=listing.spec,
                quantity=Decimal(20),
                unit=listing.unit,
                unit_price=Decimal(260),
                amount=Decimal(5200),
                delivery_region_id=client["region"],
                delivery_date=timezone.localdate(),
                payment_terms="escrow",
                fee_rate=cluster.fee_rate,
                status="created",
                placed_by=client["user"],
                placed_at=now,
            )
        )
    Order.objects.bulk_create(rows, batch_size=2000)


# ---------------------------------------------------------------------------------------------- API


def serve(env: dict) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "chanlian", "serve", "--bind", f"127.0.0.1:{PORT}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(150):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("chanlian serve did not answer /healthz")


def run_api(listings: list[int], clients: list[dict]) -> tuple[float, list[float], int]:
    per_client = N_ORDERS // len(clients)
    latencies: list[list[float]] = [[] for _ in clients]
    errors: list[str] = []
    barrier = threading.Barrier(len(clients) + 1)

    def client(k: int):
        info = clients[k]
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        headers = {
            "Authorization": f"Token {info['token']}",
            "Content-Type": "application/json",
            "Accept-Language": "zh-hans",
        }

        def post(i: int) -> float:
            body = json.dumps(
                {
                    "listing": listings[(k * 7 + i) % len(listings)],
                    "quantity": f"{10 + (i * 13) % 490}",
                    "delivery_region": info["region"],
                }
            )
            t = time.perf_counter()
            conn.request("POST", "/api/v1/orders/", body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            elapsed = (time.perf_counter() - t) * 1000
            if response.status != 201:
                errors.append(f"HTTP {response.status}: {data[:200]!r}")
            return elapsed

        for i in range(WARMUP):
            post(10_000 + i)
        barrier.wait()
        for i in range(per_client):
            latencies[k].append(post(i))
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(len(clients))]
    for th in threads:
        th.start()
    barrier.wait()
    t = time.perf_counter()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t
    if errors:
        raise SystemExit(f"{len(errors)} requests failed, first: {errors[0]}")
    samples = [x for lat in latencies for x in lat]
    return wall, samples, len(samples)


# ---------------------------------------------------------------------------------------------- floor


def captured_statements(listing_id: int, client: dict) -> list[str]:
    """The SQL one ``place_order_from_listing`` sends (the service, as the API view calls it)."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from chanlian.trade import services as trade

    user = client["user"]
    # As a server thread runs it once warm: the county found once is cached per process (reference
    # data); the principal is per request, so it is read again.
    with transaction.atomic():
        trade.place_order_from_listing(user, listing_id, quantity="20", delivery_region=client["region"])
    user.__dict__.pop("_chanlian_principal", None)
    with CaptureQueriesContext(connection) as ctx, transaction.atomic():
        trade.place_order_from_listing(user, listing_id, quantity="20", delivery_region=client["region"])
    return [q["sql"] for q in ctx.captured_queries]


PRINCIPAL_SQL = (
    "SELECT 'e', e.enterprise_id, e.role, x.kind FROM registry_employment e "
    "JOIN registry_enterprise x ON x.id = e.enterprise_id WHERE e.user_id = %(u)s "
    "UNION ALL SELECT 'o', c.id, NULL, NULL FROM registry_cluster c WHERE c.operator_id IN "
    "(SELECT enterprise_id FROM registry_employment WHERE user_id = %(u)s AND role IN ('admin', 'staff')) "
    "UNION ALL SELECT 'm', m.cluster_id, NULL, NULL FROM registry_membership m WHERE m.status = 'verified' "
    "AND m.enterprise_id IN (SELECT enterprise_id FROM registry_employment WHERE user_id = %(u)s) "
    "UNION ALL SELECT 'g', g.cluster_id, NULL, NULL FROM registry_cluster_government_bodies g "
    "WHERE g.enterprise_id IN (SELECT e.enterprise_id FROM registry_employment e "
    "JOIN registry_enterprise x ON x.id = e.enterprise_id WHERE e.user_id = %(u)s AND x.kind = 'government')"
)


def run_floor(listings: list[int], clients: list[dict]) -> tuple[float, list[float]]:
    """The same rows by hand: per order, in one transaction — the token's user, the principal (one
    statement), the listing joined with its cluster and supplier, the buyer, the price tier, the
    reference check, the order INSERT, the audit head FOR UPDATE, the audit INSERT with the hash chained
    on the head, the head UPDATE: the statements ``captured_statements`` prints, one for one."""
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    dsn = f"host={db['HOST']} port={db['PORT'] or 5432} user={db['USER']} dbname={db['NAME']}"
    per_client = N_ORDERS // len(clients)
    latencies: list[list[float]] = [[] for _ in clients]
    barrier = threading.Barrier(len(clients) + 1)
    with psycopg.connect(dsn) as conn:
        meta = {}
        for info in clients:
            row = conn.execute(
                "SELECT e.enterprise_id, t.user_id FROM authtoken_token t "
                "JOIN registry_employment e ON e.user_id = t.user_id WHERE t.key = %s",
                [info["token"]],
            ).fetchone()
            meta[info["token"]] = row
        cluster_id, fee_rate = conn.execute("SELECT id, fee_rate FROM registry_cluster LIMIT 1").fetchone()
        floor_audit_heads(conn)
    n_chains = audit_chains()

    def worker(k: int):
        info = clients[k]
        buyer_id, user_id = meta[info["token"]]
        with psycopg.connect(dsn) as conn:
            barrier.wait()
            for i in range(per_client):
                listing_id = listings[(k * 7 + i) % len(listings)]
                qty = 10 + (i * 13) % 490
                t = time.perf_counter()
                with conn.transaction():
                    conn.execute(
                        "SELECT u.id, u.is_active FROM authtoken_token t "
                        "JOIN auth_user u ON u.id = t.user_id WHERE t.key = %s",
                        [info["token"]],
                    ).fetchone()
                    # the principal: one statement, as registry.principal reads it
                    conn.execute(PRINCIPAL_SQL, {"u": user_id}).fetchall()
                    # the listing with its cluster and supplier, one join (as the service reads it)
                    listing = conn.execute(
                        "SELECT l.id, l.supplier_id, l.status, l.moq, l.available_quantity, l.title, "
                        "l.spec, l.category, l.unit, l.currency, l.lead_time_days, l.cluster_id, "
                        "c.id, c.name, c.status, c.fee_rate, s.id, s.name, s.kind "
                        "FROM trade_listing l JOIN registry_cluster c ON c.id = l.cluster_id "
                        "JOIN registry_enterprise s ON s.id = l.supplier_id WHERE l.id = %s",
                        [listing_id],
                    ).fetchone()
                    # the acting enterprise (the county is cached per process by the server, as here)
                    conn.execute("SELECT * FROM registry_enterprise WHERE id = %s", [buyer_id]).fetchone()
                    price = conn.execute(
                        "SELECT unit_price FROM trade_pricetier WHERE listing_id = %s "
                        "AND min_quantity <= %s ORDER BY min_quantity DESC LIMIT 1",
                        [listing_id, qty],
                    ).fetchone()[0]
                    ref = "CL" + secrets.token_hex(4).upper()
                    conn.execute("SELECT 1 FROM trade_order WHERE reference = %s LIMIT 1", [ref]).fetchone()
                    order_id = conn.execute(
                        "INSERT INTO trade_order (created_at, updated_at, cluster_id, buyer_id, "
                        "supplier_id, origin, listing_id, reference, category, title, spec, quantity, unit, "
                        "unit_price, amount, currency, delivery_region_id, delivery_address, delivery_date, "
                        "payment_terms, fee_rate, note, status, status_reason, reserved_quantity, "
                        "quality_grade, acceptance_note, placed_by_id, placed_at) VALUES (now(), now(), "
                        "%s, %s, %s, 'listing', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, '', "
                        "current_date + %s, 'escrow', %s, '', 'created', '', 0, '', '', %s, now()) "
                        "RETURNING id",
                        [
                            cluster_id,
                            buyer_id,
                            listing[1],
                            listing_id,
                            ref,
                            listing[7],
                            listing[5],
                            json.dumps(listing[6]),
                            qty,
                            listing[8],
                            price,
                            price * qty,
                            listing[9],
                            info["region"],
                            listing[10],
                            fee_rate,
                            user_id,
                        ],
                    ).fetchone()[0]
                    data = json.dumps({"after": {"order": order_id, "amount": str(price * qty)}})
                    floor_audit_append(
                        conn,
                        n_chains,
                        user_id,
                        "order.place",
                        "trade.order",
                        order_id,
                        cluster_id,
                        buyer_id,
                        data,
                    )
                latencies[k].append((time.perf_counter() - t) * 1000)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(len(clients))]
    for th in threads:
        th.start()
    barrier.wait()
    t = time.perf_counter()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t
    return wall, [x for lat in latencies for x in lat]


# ---------------------------------------------------------------------------------------------- profile


def profile_requests(listings: list[int], client: dict, n: int = 200) -> None:
    """Where a request's time goes: ``n`` order POSTs through the WSGI app in this process, profiled."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        Profiler = None
    from django.test import Client

    c = Client(HTTP_AUTHORIZATION=f"Token {client['token']}", HTTP_HOST="127.0.0.1")

    def requests():
        for i in range(n):
            c.post(
                "/api/v1/orders/",
                {
                    "listing": listings[i % len(listings)],
                    "quantity": "20",
                    "delivery_region": client["region"],
                },
                content_type="application/json",
            )

    requests()  # warm
    if Profiler is not None:
        profiler = Profiler(interval=0.0005)
        profiler.start()
        requests()
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False)[:12000], flush=True)
        return
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    requests()
    prof.disable()
    pstats.Stats(prof).sort_stats("cumulative").print_stats(40)


# ---------------------------------------------------------------------------------------------- main


def main() -> int:
    backend = setup_database("chanlian_bench_orders")
    if backend != "postgresql":
        raise SystemExit("bench/orders.py measures PostgreSQL locks under concurrency: run it on PostgreSQL")
    from django.db import connection

    listings, clients = generate()
    statements = captured_statements(listings[0], clients[0])
    print(f"place_order_from_listing sends {len(statements)} statements:", flush=True)
    for sql in statements:
        print(f"  {sql[:150]}", flush=True)
    connection.close()

    env = {
        **os.environ,
        "CHANLIAN_ACCESS_LOG": "/dev/null",
        "CHANLIAN_SECRET_KEY": secrets.token_urlsafe(40),
        "CHANLIAN_DEBUG": "0",
    }
    env.pop("CHANLIAN_DEMO", None)
    proc = serve(env)
    try:
        wall, samples, n = run_api(listings, clients)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    api_rate = n / wall
    p50, p95 = statistics.median(samples), percentile(samples, 95)
    print(
        f"API  POST /api/v1/orders/ ×{n} ({CLIENTS} clients, chanlian serve 2 workers × 4 threads): "
        f"{api_rate:7.1f} orders/s   p50 {p50:6.1f} ms   p95 {p95:6.1f} ms",
        flush=True,
    )
    fwall, fsamples = run_floor(listings, clients)
    floor_rate = len(fsamples) / fwall
    print(
        f"floor psycopg, same SQL ×{len(fsamples)} ({CLIENTS} threads): {floor_rate:7.1f} orders/s   "
        f"p50 {statistics.median(fsamples):6.1f} ms   p95 {percentile(fsamples, 95):6.1f} ms",
        flush=True,
    )
    ratio = api_rate / floor_rate
    ok = ratio >= TARGET_RATIO and p95 <= TARGET_P95_MS
    print(
        f"ratio (API / floor throughput) {ratio:.2f}  target ≥ {TARGET_RATIO}; p95 {p95:.1f} ms target ≤ "
        f"{TARGET_P95_MS:g} ms: {'OK' if ok else 'MISSED'}",
        flush=True,
    )
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM trade_order")
        print(f"orders in the database: {cur.fetchone()[0]}", flush=True)
    if os.environ.get("BENCH_PROFILE"):
        profile_requests(listings, clients[0])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
