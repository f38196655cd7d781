"""The enterprise directory at scale: 100,000 enterprises across 500 clusters.

Measures server time of ``GET /api/v1/enterprises/`` and the directory page, in-process through Django's
test client (no network in the figure), for a member, an operator and the platform admin; the floor is
the hand-written SQL of the same page (rows + count) over the same indexes, timed in the same run.
Then the resident memory of an idle ``chanlian serve``.

    python3 dev.py bench directory              # PostgreSQL (127.0.0.1:5432)
    BENCH_BACKEND=sqlite python3 dev.py bench directory
    BENCH_ENTERPRISES=20000 …                   # smaller
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, WSGIClient, report, setup_database, timed

N_ENTERPRISES = int(os.environ.get("BENCH_ENTERPRISES", "100000"))
N_CLUSTERS = int(os.environ.get("BENCH_CLUSTERS", "500"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "200"))


def generate(rng: random.Random):
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from chanlian.industry.packs import all_packs
    from chanlian.regions.models import Region
    from chanlian.registry.models import ChainRole, Cluster, Employment, Enterprise, Membership
    from chanlian.registry.uscc import make

    counties = list(Region.objects.filter(level="county").values_list("code", flat=True))
    packs = all_packs()
    t = time.perf_counter()
    with transaction.atomic():
        operators = Enterprise.objects.bulk_create(
            [
                Enterprise(
                    name=f"运营方{i}",
                    uscc=make(counties[i % len(counties)], f"{i:08d}"),
                    region_id=counties[i % len(counties)],
                )
                for i in range(N_CLUSTERS)
            ],
            batch_size=2000,
        )
        clusters = Cluster.objects.bulk_create(
            [
                Cluster(
                    name=f"集群{i}", region_id=op.region_id, pack_key=packs[i % len(packs)].key, operator=op
                )
                for i, op in enumerate(operators)
            ],
            batch_size=2000,
        )
        members = Enterprise.objects.bulk_create(
            [
                Enterprise(
                    name=f"{rng.choice('华鑫源丰茗兴隆泰')}{rng.choice('达盛和信')}企业{i}",
                    uscc=make(counties[(i * 7) % len(counties)], f"{N_CLUSTERS + i:08d}"),
                    region_id=counties[(i * 7) % len(counties)],
                )
                for i in range(N_ENTERPRISES - N_CLUSTERS)
            ],
            batch_size=5000,
        )
        memberships = [Membership(cluster=c, enterprise=c.operator, status="verified") for c in clusters]
        for i, e in enumerate(members):
            memberships.append(
                Membership(
                    cluster=clusters[i % N_CLUSTERS],
                    enterprise=e,
                    status="verified" if rng.random() < 0.9 else "pending",
                )
            )
        memberships = Membership.objects.bulk_create(memberships, batch_size=5000)
        stages_of = {p.key: p.stage_keys() for p in packs}
        roles = []
        for m in memberships:
            stages = stages_of[clusters[(m.cluster_id - clusters[0].pk)].pack_key]
            for s in rng.sample(stages, k=min(2, len(stages))):
                roles.append(ChainRole(membership=m, cluster_id=m.cluster_id, stage=s))
        ChainRole.objects.bulk_create(roles, batch_size=10000)
        User = get_user_model()
        admin = User.objects.create_user("bench_admin", password="bench-password-1", is_superuser=True)
        operator = User.objects.create_user("bench_operator", password="bench-password-1")
        member = User.objects.create_user("bench_member", password="bench-password-1")
        target = clusters[N_CLUSTERS // 2]
        Employment.objects.create(user=operator, enterprise=target.operator, role="admin")
        some_member = (
            Membership.objects.filter(cluster=target, status="verified")
            .exclude(enterprise=target.operator)
            .first()
        )
        Employment.objects.create(user=member, enterprise_id=some_member.enterprise_id, role="admin")
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE")  # both backends plan from statistics; a real deployment has them too
    print(
        f"generated {Enterprise.objects.count():,} enterprises, {len(clusters)} clusters, "
        f"{len(roles):,} chain roles in {time.perf_counter() - t:.1f} s",
        flush=True,
    )
    return {"admin": admin, "operator": operator, "member": member, "cluster": target}


def floor_sql(cluster_id: int, user_id: int, page_size: int = 50):
    """The same page by hand: visible enterprises of one cluster, their region, memberships and roles."""
    from django.db import connection

    # Each backend's best hand-written form of "enterprises with a verified membership in the cluster":
    # PostgreSQL unnests a correlated EXISTS into a nested loop, SQLite drives an IN from the index.
    if connection.vendor == "sqlite":
        in_cluster = (
            "e.id IN (SELECT m.enterprise_id FROM registry_membership m "
            "WHERE m.cluster_id = %s AND m.status = 'verified')"
        )
    else:
        in_cluster = (
            "EXISTS (SELECT 1 FROM registry_membership m "
            "WHERE m.enterprise_id = e.id AND m.cluster_id = %s AND m.status = 'verified')"
        )

    def run(_i):
        with connection.cursor() as cur:
            cur.execute(f"SELECT COUNT(*) FROM registry_enterprise e WHERE {in_cluster}", [cluster_id])
            cur.fetchone()
            cur.execute(
                "SELECT e.id, e.name, e.uscc, e.kind, r.code, r.name FROM registry_enterprise e "
                f"JOIN regions_region r ON r.code = e.region_id WHERE {in_cluster} ORDER BY e.id LIMIT %s",
                [cluster_id, page_size],
            )
            ids = [row[0] for row in cur.fetchall()]
            placeholders = ",".join(["%s"] * len(ids))
            cur.execute(
                "SELECT m.id, m.enterprise_id, m.status, c.name, cr.stage FROM registry_membership m "
                "JOIN registry_cluster c ON c.id = m.cluster_id LEFT JOIN registry_chainrole cr "
                f"ON cr.membership_id = m.id WHERE m.enterprise_id IN ({placeholders}) AND m.cluster_id = %s",
                [*ids, cluster_id],
            )
            cur.fetchall()
            cur.execute("SELECT enterprise_id, role FROM registry_employment WHERE user_id = %s", [user_id])
            cur.fetchall()

    return run


def idle_rss_mb() -> tuple[float, int]:
    env = {**os.environ, "CHANLIAN_ACCESS_LOG": "/dev/null"}
    port = "8765"
    proc = subprocess.Popen(
        [sys.executable, "-m", "chanlian", "serve", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import urllib.request

        for _ in range(150):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise SystemExit("chanlian serve did not answer /healthz")
        time.sleep(2.0)
        pids = [proc.pid] + [
            int(p)
            for p in subprocess.run(
                ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True
            ).stdout.split()
        ]
        total = 0
        for pid in pids:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        return total / 1024, len(pids)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main():
    backend = setup_database("chanlian_bench_directory")
    from django.db import connection

    print(f"backend: {backend}; {N_ENTERPRISES:,} enterprises, {N_CLUSTERS} clusters", flush=True)
    who = generate(random.Random(7))
    cluster = who["cluster"]
    results = []
    for persona in ("member", "operator", "admin"):
        client = WSGIClient(who[persona])
        for label, url in (
            ("api", f"/api/v1/enterprises/?cluster={cluster.pk}"),
            ("page", f"/clusters/{cluster.pk}/directory/"),
            ("api search", f"/api/v1/enterprises/?cluster={cluster.pk}&q=企业1"),
        ):
            client.get(url)
            executed: list[str] = []

            def count_queries(execute, sql, params, many, context, executed=executed):
                executed.append(sql)
                return execute(sql, params, many, context)

            with connection.execute_wrapper(count_queries):
                client.get(url)
            samples = timed(lambda _i, url=url, client=client: client.get(url), REQUESTS)
            floor = timed(floor_sql(cluster.pk, who[persona].pk), REQUESTS)
            row = report(f"{persona:<8} {label:<10} ({len(executed)} queries)", samples, floor, 50)
            results.append(row)
    client = WSGIClient(who["admin"])
    page = max(1, min(100, N_ENTERPRISES // 50))
    samples = timed(lambda _i: client.get(f"/api/v1/enterprises/?page={page}"), REQUESTS // 2)
    results.append(report(f"admin    api all enterprises, page {page}", samples, None, 50))
    rss, procs = idle_rss_mb()
    print(
        f"idle `chanlian serve` resident memory: {rss:.0f} MiB across {procs} processes (master + workers)",
        flush=True,
    )
    return 0 if all(r.get("ok", True) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
