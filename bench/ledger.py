"""The settlement ledger at scale: the trial balance of a cluster with 1,000,000 journal lines.

Generates a year of escrow and payment-terms money movements for one cluster (500 enterprises, the
entries docs/ledger.md prescribes, loaded with COPY — inserts are what the append-only triggers allow),
plus a second cluster's lines as noise. Then times ``selectors.trial_balance(cluster)`` against a floor
measured in the same run: the raw SQL GROUP BY over the same lines table. Also: one account's balance,
a page of balances, a month's statement, and ``post_entry`` through the service (audited, one by one).

    python3 dev.py bench ledger                    # PostgreSQL (127.0.0.1:5432)
    BENCH_LINES=200000 python3 dev.py bench ledger # smaller
    BENCH_BACKEND=sqlite python3 dev.py bench ledger
"""

from __future__ import annotations

import os
import random
import sys
import time
from datetime import timedelta
from decimal import Decimal

from common import report, setup_database, timed

N_LINES = int(os.environ.get("BENCH_LINES", "1000000"))
N_ENTERPRISES = int(os.environ.get("BENCH_LEDGER_ENTERPRISES", "500"))
NOISE_LINES = int(os.environ.get("BENCH_NOISE_LINES", str(N_LINES // 5)))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "20"))
TARGET_MS = 1000


def make_cluster(tag: str, n_enterprises: int, rng: random.Random):
    from chanlian.ledger.services import open_account
    from chanlian.regions.models import Region
    from chanlian.registry.models import Cluster, Enterprise
    from chanlian.registry.uscc import make

    counties = list(Region.objects.filter(level="county").values_list("code", flat=True)[:200])
    base = 1 if tag == "a" else 5000
    operator = Enterprise.objects.create(
        name=f"运营方{tag}", uscc=make(counties[0], f"{base:08d}"), region_id=counties[0]
    )
    cluster = Cluster.objects.create(
        name=f"账簿集群{tag}", region_id=counties[0], pack_key="tea", operator=operator
    )
    members = Enterprise.objects.bulk_create(
        [
            Enterprise(
                name=f"企业{tag}{i}",
                uscc=make(counties[i % len(counties)], f"{base + 1 + i:08d}"),
                region_id=counties[i % len(counties)],
            )
            for i in range(n_enterprises)
        ]
    )
    books = {code: open_account(cluster, code) for code in ("bank_clearing", "fee_income", "bank_charges")}
    accounts = [
        {code: open_account(cluster, code, e) for code in ("cash", "escrow", "receivable", "payable")}
        for e in members
    ]
    return cluster, books, accounts


def entries_for(books, accounts, n_lines: int, rng: random.Random):
    """Yield (kind, reference, [(account_id, amount)]) for the events of docs/ledger.md until n_lines."""
    bank, fees, charges = books["bank_clearing"].pk, books["fee_income"].pk, books["bank_charges"].pk
    made, order = 0, 0
    while made < n_lines:
        order += 1
        buyer, supplier = rng.sample(accounts, 2)
        amount = Decimal(rng.randrange(10_000, 5_000_000)) / 100
        fee = (amount * Decimal("0.005")).quantize(Decimal("0.01"))
        ref = f"order:{order}"
        if rng.random() < 0.7:  # escrow: deposit, then release minus the fee, sometimes a payout
            batch = [
                ("escrow.deposit", ref, [(bank, amount), (buyer["escrow"].pk, -amount)]),
                (
                    "escrow.release",
                    ref,
                    [(buyer["escrow"].pk, amount), (supplier["cash"].pk, -(amount - fee)), (fees, -fee)],
                ),
            ]
            if rng.random() < 0.5:
                batch.append(
                    (
                        "payout",
                        f"payout:{order}",
                        [(supplier["cash"].pk, amount - fee), (bank, -(amount - fee))],
                    )
                )
        else:  # payment terms: receivable on acceptance, settled when the buyer pays
            batch = [
                ("terms.accept", ref, [(buyer["payable"].pk, amount), (supplier["receivable"].pk, -amount)]),
                (
                    "terms.settle",
                    ref,
                    [
                        (bank, amount),
                        (buyer["payable"].pk, -amount),
                        (supplier["receivable"].pk, amount),
                        (supplier["cash"].pk, -(amount - fee)),
                        (fees, -fee),
                    ],
                ),
            ]
        if order % 1000 == 0:
            batch.append(
                ("bank.charges", f"bank:{order}", [(charges, Decimal("12.00")), (bank, Decimal("-12.00"))])
            )
        for item in batch:
            made += len(item[2])
            yield item


def load(cluster, generated, first_entry_id: int, start) -> tuple[int, int]:
    """COPY the entries and lines in (PostgreSQL), or bulk_create them (SQLite). Returns (entries, lines)."""
    from django.db import connection, transaction

    from chanlian.ledger.models import JournalEntry, JournalLine

    entries, lines = [], []
    eid = first_entry_id
    span = 365 * 24 * 3600
    for i, (kind, ref, pairs) in enumerate(generated):
        posted = start + timedelta(seconds=int(i * span / max(1, N_LINES // 2.5)))
        entries.append((eid, cluster.pk, kind, ref, posted))
        lines.extend((eid, cluster.pk, account, amount) for account, amount in pairs)
        eid += 1
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        raw = connection.connection  # psycopg 3
        with transaction.atomic(), raw.cursor() as cur:
            with cur.copy(
                "COPY ledger_journalentry (id, cluster_id, kind, memo, reference, posted_at) FROM STDIN"
            ) as copy:
                for e, c, kind, ref, posted in entries:
                    copy.write_row((e, c, kind, "", ref, posted))
            with cur.copy(
                "COPY ledger_journalline (entry_id, cluster_id, account_id, amount) FROM STDIN"
            ) as copy:
                for row in lines:
                    copy.write_row(row)
    else:
        with transaction.atomic():
            JournalEntry.objects.bulk_create(
                [
                    JournalEntry(id=e, cluster_id=c, kind=k, reference=r, posted_at=p)
                    for e, c, k, r, p in entries
                ],
                batch_size=5000,
            )
            JournalLine.objects.bulk_create(
                [JournalLine(entry_id=e, cluster_id=c, account_id=a, amount=m) for e, c, a, m in lines],
                batch_size=5000,
            )
    return len(entries), len(lines)


def floor_sql(cluster_id: int):
    from django.db import connection

    if connection.vendor == "postgresql":
        sql = (
            "SELECT account_id, SUM(amount) FILTER (WHERE amount > 0), SUM(amount) FILTER (WHERE amount < 0) "
            "FROM ledger_journalline WHERE cluster_id = %s GROUP BY account_id"
        )
    else:
        sql = (
            "SELECT account_id, SUM(CASE WHEN amount > 0 THEN CAST(ROUND(amount * 100) AS INTEGER) END), "
            "SUM(CASE WHEN amount < 0 THEN CAST(ROUND(amount * 100) AS INTEGER) END) "
            "FROM ledger_journalline WHERE cluster_id = %s GROUP BY account_id"
        )

    def run(_i):
        with connection.cursor() as cur:
            cur.execute(sql, [cluster_id])
            return cur.fetchall()

    return run


def explain(cluster) -> str:
    from django.db import connection

    from chanlian.ledger import selectors

    qs = selectors.trial_balance_query(cluster)  # the query trial_balance() issues
    sql, params = qs.query.sql_with_params()
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN "
    with connection.cursor() as cur:
        cur.execute(prefix + sql, params)
        return "\n".join("    " + " | ".join(str(c) for c in row) for row in cur.fetchall())


def main():
    backend = setup_database("chanlian_bench_ledger")
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from chanlian.ledger import selectors
    from chanlian.ledger.models import JournalLine
    from chanlian.ledger.services import post_entry

    rng = random.Random(11)
    print(
        f"backend: {backend}; {N_LINES:,} lines in the measured cluster, {NOISE_LINES:,} in another",
        flush=True,
    )
    t = time.perf_counter()
    cluster, books, accounts = make_cluster("a", N_ENTERPRISES, rng)
    other, other_books, other_accounts = make_cluster("b", 100, rng)
    start = timezone.now() - timedelta(days=366)
    n_entries, n_lines = load(cluster, entries_for(books, accounts, N_LINES, rng), 1, start)
    m_entries, m_lines = load(
        other, entries_for(other_books, other_accounts, NOISE_LINES, rng), n_entries + 1, start
    )
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(
                "SELECT setval(pg_get_serial_sequence('ledger_journalentry', 'id'), "
                "(SELECT MAX(id) FROM ledger_journalentry))"
            )
            cur.execute("VACUUM ANALYZE ledger_journalline")
            cur.execute("VACUUM ANALYZE ledger_journalentry")
            cur.execute("VACUUM ANALYZE ledger_account")
        else:
            cur.execute("ANALYZE")
    print(
        f"generated {n_entries + m_entries:,} entries, {n_lines + m_lines:,} lines "
        f"({JournalLine.objects.filter(cluster=cluster).count():,} in the measured cluster, "
        f"{len(accounts) * 4 + 3} accounts) in {time.perf_counter() - t:.1f} s",
        flush=True,
    )

    tb = selectors.trial_balance(cluster)
    assert tb.balanced, tb.totals
    check = floor_sql(cluster.pk)(0)
    assert len(check) == sum(1 for r in tb.rows if r.debit or r.credit)
    print(
        f"trial balance: {len(tb.rows)} accounts, debits = credits = {tb.totals['CNY'].debit:,} CNY",
        flush=True,
    )

    results = []
    samples = timed(lambda _i: selectors.trial_balance(cluster), REQUESTS, warmup=3)
    floor = timed(floor_sql(cluster.pk), REQUESTS, warmup=3)
    results.append(report(f"trial_balance(cluster), {n_lines:,} lines", samples, floor, TARGET_MS))
    print("  plan:\n" + explain(cluster), flush=True)

    busy = max(accounts, key=lambda a: a["cash"].pk % 7)["cash"]
    results.append(report("balance(one account)", timed(lambda _i: selectors.balance(busy), 50), None, 50))
    page = [a["cash"] for a in accounts[:50]]
    results.append(
        report("balances(50 accounts), one query", timed(lambda _i: selectors.balances(page), 50), None, 50)
    )
    today = timezone.localdate()
    results.append(
        report(
            "statement(one account, 31 days)",
            timed(lambda _i: selectors.statement(busy, today - timedelta(days=30), today), 50),
            None,
            100,
        )
    )

    actor = get_user_model().objects.create_user("bench_ledger", password="bench-password-1")
    bank, escrow = books["bank_clearing"], accounts[0]["escrow"]
    n_posts = 300
    t = time.perf_counter()
    for i in range(n_posts):
        post_entry(
            actor,
            cluster=cluster,
            kind="escrow.deposit",
            reference=f"bench:{i}",
            idempotency_key=f"bench-{i}",
            lines=[(bank, Decimal("100.00")), (escrow, Decimal("-100.00"))],
        )
    elapsed = time.perf_counter() - t
    print(
        f"post_entry (audited, idempotency key, 2 lines): {n_posts / elapsed:,.0f} entries/s, "
        f"{elapsed / n_posts * 1000:.2f} ms each",
        flush=True,
    )
    return 0 if all(r.get("ok", True) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
