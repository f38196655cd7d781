"""Shared benchmark plumbing: a throw-away database per run, percentiles, a floor in the same run."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def audit_chains() -> int:
    from django.conf import settings

    return int(settings.AUDIT_CHAINS)


def floor_audit_heads(conn) -> None:
    """Every audit chain's head row, so that a floor's append never meets a missing one (the services
    create a head on a chain's first write)."""
    conn.execute(
        "INSERT INTO core_audithead (id, seq, hash) SELECT g, 0, repeat('0', 64) "
        "FROM generate_series(1, %s) g ON CONFLICT DO NOTHING",
        [audit_chains()],
    )
    conn.commit()


def floor_audit_append(conn, chains: int, actor, action, object_type, oid, cluster, enterprise, data) -> None:
    """A floor's audit append by hand, as ``core.audit.record`` makes it on PostgreSQL: lock this
    transaction's chain head (transaction id mod ``chains``, plus one), insert the entry with its sha256
    link, move the head. Three statements."""
    import hashlib

    chain, seq, head = conn.execute(
        "SELECT id, seq, hash FROM core_audithead "
        f"WHERE id = (pg_current_xact_id()::text::bigint % {int(chains)}) + 1 FOR UPDATE"
    ).fetchone()
    digest = hashlib.sha256((head + data).encode()).hexdigest()
    conn.execute(
        "INSERT INTO core_auditentry (chain, seq, created_at, actor_id, actor_label, action, object_type, "
        "object_id, cluster_id, enterprise_id, data, prev_hash, hash) "
        "VALUES (%s, %s, now(), %s, 'bench', %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        [chain, seq + 1, actor, action, object_type, str(oid), cluster, enterprise, data, head, digest],
    ).fetchone()
    conn.execute("UPDATE core_audithead SET seq = %s, hash = %s WHERE id = %s", [seq + 1, digest, chain])


def floor_head_sql(chains: int, ref: str) -> str:
    """The lateral join that reads and locks this transaction's chain head after the row ``ref`` belongs
    to, as ``core.audit.head_sql`` writes it (a floor's one locking statement of a fused write)."""
    return (
        "LEFT JOIN LATERAL (SELECT id, seq, hash FROM core_audithead "
        f"WHERE id = mod(pg_current_xact_id()::text::bigint, {int(chains)}) + 1 AND {ref} IS NOT NULL "
        "FOR UPDATE) AS audit_head ON true"
    )


def floor_audit_parts(head, actor, action, object_type, oid, cluster, enterprise, data) -> list:
    """The audit entry after ``head`` = (chain, seq, hash) and the head's move, as ``(sql, params)`` for
    one fused statement (``floor_fused``), as ``core.writes.Writes`` makes them."""
    import hashlib

    chain, seq, prev = head
    digest = hashlib.sha256((prev + data).encode()).hexdigest()
    return [
        (
            "INSERT INTO core_auditentry (chain, seq, created_at, actor_id, actor_label, action, "
            "object_type, object_id, cluster_id, enterprise_id, data, prev_hash, hash) "
            "VALUES (%s, %s, now(), %s, 'bench', %s, %s, %s, %s, %s, %s, %s, %s)",
            [chain, seq + 1, actor, action, object_type, str(oid), cluster, enterprise, data, prev, digest],
        ),
        ("UPDATE core_audithead SET seq = %s, hash = %s WHERE id = %s", [seq + 1, digest, chain]),
    ]


def floor_fused(conn, parts: list) -> None:
    """``parts`` — ``(sql, params)`` writes — as one statement of data-modifying CTEs (core.writes)."""
    sql = "WITH " + ", ".join(f"w{i} AS ({s})" for i, (s, _p) in enumerate(parts)) + " SELECT 1"
    conn.execute(sql, [p for _s, params in parts for p in params])


def setup_database(name: str, *, backend: str | None = None) -> str:
    """Point Django at a fresh database for this benchmark and migrate it. Returns the vendor."""
    backend = backend or (
        "postgresql" if os.environ.get("BENCH_BACKEND", "postgresql") == "postgresql" else "sqlite"
    )
    if backend == "postgresql":
        import psycopg

        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(
                f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' "
                "LC_CTYPE 'C.UTF-8'"
            )
        os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{name}"
    else:
        path = Path(tempfile.mkdtemp(prefix="chanlian-bench-")) / f"{name}.sqlite3"
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chanlian.settings")
    os.environ.setdefault("CHANLIAN_DEMO", "1")
    os.environ.setdefault("CHANLIAN_DATA_DIR", tempfile.mkdtemp(prefix="chanlian-bench-data-"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return backend


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def timed(fn, n: int, warmup: int = 5) -> list[float]:
    for _ in range(warmup):
        fn(0)
    out = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t) * 1000)
    return out


def report(
    name: str, samples: list[float], floor: list[float] | None = None, target_ms: float | None = None
) -> dict:
    p50, p95 = statistics.median(samples), percentile(samples, 95)
    line = f"{name:<58} p50 {p50:7.2f} ms  p95 {p95:7.2f} ms"
    row = {"name": name, "p50": p50, "p95": p95}
    if floor:
        fp95 = percentile(floor, 95)
        row["floor_p95"], row["ratio"] = fp95, p95 / fp95 if fp95 else float("inf")
        line += f"  floor p95 {fp95:6.2f} ms  ratio {row['ratio']:5.1f}×"
    if target_ms is not None:
        row["ok"] = p95 <= target_ms
        line += f"  target ≤{target_ms:g} ms {'OK' if row['ok'] else 'MISSED'}"
    print(line, flush=True)
    return row


class WSGIClient:
    """Calls the WSGI application the way gunicorn does, without the test client's instrumentation
    (template and signal capture), so the figure is the server's own time for the request."""

    def __init__(self, user=None, language: str = "zh-hans"):
        from django.test import Client

        from chanlian.wsgi import application

        self.app = application
        self.cookie = ""
        self.language = language
        if user is not None:
            client = Client()
            client.force_login(user)
            self.cookie = f"sessionid={client.cookies['sessionid'].value}"

    def get(self, path: str) -> tuple[int, bytes]:
        import io
        from urllib.parse import quote, urlsplit

        parts = urlsplit(quote(path, safe="/?=&%"))
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": parts.path,
            "QUERY_STRING": parts.query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_COOKIE": self.cookie,
            "HTTP_ACCEPT_LANGUAGE": self.language,
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
        }
        status = []
        body = b"".join(self.app(environ, lambda s, h, exc_info=None: status.append(s)))
        code = int(status[0].split()[0])
        if code != 200:
            raise SystemExit(f"benchmark request {path} failed: HTTP {code}")
        return code, body
