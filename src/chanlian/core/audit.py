"""The tamper-evident audit log.

``record`` is called by every service write, inside the service's transaction: if the write rolls back,
so does its entry. Entries form hash chains, ``hash_n = sha256(hash_{n-1} || canonical(entry_n))`` within
a chain, each chain with its head row (``AuditHead``, id = the chain).

Why several chains: an append locks its chain's head until the transaction commits, so every audited
write of the platform queued on the one head for its statements *and* its commit's WAL flush — the raw
SQL of a voucher move made 755 moves/s on 2 cores at 73 % CPU with one head, 1,250–1,315/s at 98 % with
16 (bench/finance.py, docs/benchmarks.md "Finance"). On PostgreSQL a transaction appends to chain
``(its transaction id mod settings.AUDIT_CHAINS) + 1``: always the same chain within one transaction
(so ``lock_head`` early and ``record`` later take the same lock), a different one for the next. SQLite
has one writer at a time: one chain. ``verify`` walks every chain.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from .models import AuditEntry, AuditHead

GENESIS = "0" * 64


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):  # keys as text, in order, as JSON stores them (canonical sorts anyway)
        return dict(sorted(((str(k), _jsonable(v)) for k, v in value.items()), key=lambda kv: kv[0]))
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def canonical(fields: dict) -> str:
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _entry_fields(entry: AuditEntry) -> dict:
    return {
        "seq": entry.seq,
        "created_at": entry.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor_id": entry.actor_id,
        "actor_label": entry.actor_label,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "cluster_id": entry.cluster_id,
        "enterprise_id": entry.enterprise_id,
        "data": entry.data,
    }


def compute_hash(prev_hash: str, entry: AuditEntry) -> str:
    return hashlib.sha256((prev_hash + canonical(_entry_fields(entry))).encode()).hexdigest()


def record(
    actor,
    action: str,
    obj=None,
    *,
    object_type: str | None = None,
    object_id: Any = None,
    cluster_id: int | None = None,
    enterprise_id: int | None = None,
    before: dict | None = None,
    after: dict | None = None,
    **extra: Any,
) -> AuditEntry:
    db = connections[DEFAULT_DB_ALIAS]  # the wrapper, not the proxy: a context-local lookup per attribute
    if not db.in_atomic_block:
        raise RuntimeError("audit.record must run inside the service's transaction")
    head = lock_head(db)
    entry = new_entry(
        actor,
        action,
        obj,
        head=head,
        object_type=object_type,
        object_id=object_id,
        cluster_id=cluster_id,
        enterprise_id=enterprise_id,
        before=before,
        after=after,
        **extra,
    )
    _insert(db, entry)
    with db.cursor() as cur:
        cur.execute(*head_move_sql(entry.chain, entry.seq, entry.hash))
    return entry


def new_entry(
    actor,
    action: str,
    obj=None,
    *,
    head: tuple[int, int, str],
    object_type: str | None = None,
    object_id: Any = None,
    cluster_id: int | None = None,
    enterprise_id: int | None = None,
    before: dict | None = None,
    after: dict | None = None,
    **extra: Any,
) -> AuditEntry:
    """The entry that follows ``head`` — ``(chain, seq, hash)`` of this transaction's chain, locked by
    the caller (``lock_head``, or ``head_sql`` in the caller's own locking statement) — hashed, unsaved.
    ``record`` saves it; ``core.writes.Writes`` sends it with the service's other writes
    (``entries_sql``, ``head_move_sql``)."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = obj.pk if object_id is None else object_id
    data: dict[str, Any] = {}
    if before is not None:
        data["before"] = before
    if after is not None:
        data["after"] = after
    data.update(extra)
    chain, seq, prev_hash = head
    entry = AuditEntry(
        chain=chain,
        seq=seq + 1,
        created_at=timezone.now(),
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=getattr(actor, "username", "") or "system",
        action=action,
        object_type=object_type or "",
        object_id=str(object_id if object_id is not None else ""),
        cluster_id=cluster_id,
        enterprise_id=enterprise_id,
        data=_jsonable(data),  # JSON's own types only: what a round trip through JSON gives
        prev_hash=prev_hash,
    )
    entry.hash = compute_hash(prev_hash, entry)
    return entry


def entries_sql(db, entries: list[AuditEntry]) -> tuple[str, list]:
    """One ``INSERT`` of ``entries`` in their order (their ids left to the database, not read back) as
    ``(sql, params)``, for one statement with a service's own writes (``core.writes``), which then moves
    the head once (``head_move_sql``). The values are the entries' own, as hashed: no ``pre_save``."""
    key = (db.vendor, len(entries))
    if key not in _ENTRIES_SQL:
        columns = ", ".join(db.ops.quote_name(f.column) for f in _ENTRY_FIELDS)
        row = "(" + ", ".join(["%s"] * len(_ENTRY_FIELDS)) + ")"
        _ENTRIES_SQL[key] = (
            f"INSERT INTO {AuditEntry._meta.db_table} ({columns}) VALUES {', '.join([row] * len(entries))}"  # noqa: S608
        )
    params = [f.get_db_prep_save(getattr(e, f.attname), db) for e in entries for f in _ENTRY_FIELDS]
    for e in entries:
        e._state.adding, e._state.db = False, db.alias
    return _ENTRIES_SQL[key], params


_ENTRIES_SQL: dict[tuple, str] = {}


def head_move_sql(chain: int, seq: int, hash_: str) -> tuple[str, list]:
    """The ``UPDATE`` that moves ``chain``'s head to ``(seq, hash_)``, as ``(sql, params)``."""
    return _HEAD_UPDATE, [seq, hash_, chain]


def head_sql(ref: str) -> str:
    """A ``LEFT JOIN LATERAL`` that reads and locks this transaction's chain head (PostgreSQL) in a
    service's own locking statement, after its row (``ref``, a column of that row, ties the head to it:
    the row is locked first, as ``record`` at the end of a service did, and a missing row locks no head).
    Its columns are ``audit_head.id, audit_head.seq, audit_head.hash``, ``NULL`` where the chain has no
    head row yet (``lock_head`` creates it)."""
    return (
        f"LEFT JOIN LATERAL (SELECT id, seq, hash FROM {_HEAD} WHERE id = {_chain_sql()}"  # noqa: S608
        f" AND {ref} IS NOT NULL FOR UPDATE) AS audit_head ON true"
    )


_HEAD = AuditHead._meta.db_table
_HEAD_UPDATE = f"UPDATE {_HEAD} SET seq = %s, hash = %s WHERE id = %s"  # noqa: S608 — the model's table
_ENTRY_FIELDS = [f for f in AuditEntry._meta.concrete_fields if not f.primary_key]


_INSERT_SQL: list[str] = []


def _insert(db, entry: AuditEntry) -> None:
    """``entry.save()`` as one plain ``INSERT … RETURNING id``: the same values, prepared by the fields
    themselves (the JSON adapted per database), without the ORM's save machinery (no signals listen on
    audit entries). Where the database cannot return the id, the ORM saves it."""
    if not db.features.can_return_columns_from_insert:
        entry.save()
        return
    if not _INSERT_SQL:
        columns = ", ".join(db.ops.quote_name(f.column) for f in _ENTRY_FIELDS)
        marks = ", ".join(["%s"] * len(_ENTRY_FIELDS))
        table = AuditEntry._meta.db_table
        _INSERT_SQL.append(f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING id")  # noqa: S608
    params = [f.get_db_prep_save(getattr(entry, f.attname), db) for f in _ENTRY_FIELDS]
    with db.cursor() as cur:
        cur.execute(_INSERT_SQL[0], params)
        entry.pk = cur.fetchone()[0]
    entry._state.adding, entry._state.db = False, db.alias


def _chain_sql() -> str:
    """The SQL of this transaction's chain (PostgreSQL): its transaction id (assigned now if it has none
    yet — it writes anyway) mod the number of chains, plus one."""
    return f"mod(pg_current_xact_id()::text::bigint, {int(settings.AUDIT_CHAINS)}) + 1"


def lock_head(db=None) -> tuple[int, int, str]:
    """This transaction's chain and its head's ``(seq, hash)``, the head row locked until the transaction
    ends (``FOR UPDATE`` where the database has row locks; SQLite's single writer serialises anyway): the
    writers of one chain queue here, so it has no fork. A service that must queue behind the chain before
    taking other locks calls this first; ``record`` later in the same transaction takes the same head.
    Plain SQL — this runs in every write and the ORM's query building was a tenth of an order
    placement's time."""
    db = db or connections[DEFAULT_DB_ALIAS]
    multi = db.features.has_select_for_update and db.vendor == "postgresql"
    if multi:
        sql = f"SELECT id, seq, hash FROM {_HEAD} WHERE id = {_chain_sql()} FOR UPDATE"  # noqa: S608
    else:
        sql = f"SELECT id, seq, hash FROM {_HEAD} WHERE id = 1"  # noqa: S608 — the model's table name
        if db.features.has_select_for_update:
            sql += " FOR UPDATE"
    with db.cursor() as cur:
        cur.execute(sql)
        row = cur.fetchone()
        if row is None:  # the first write to this chain of a new (or flushed) database
            if multi:
                cur.execute(f"SELECT {_chain_sql()}")
                chain = cur.fetchone()[0]
            else:
                chain = 1
    if row is None:
        head, _ = AuditHead.objects.select_for_update().get_or_create(id=chain)
        return head.id, head.seq, head.hash
    return row[0], row[1], row[2]


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    broken_seq: int | None = None
    reason: str = ""
    broken_chain: int | None = None
    heads: dict[int, tuple[int, str]] | None = None

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "broken_chain": self.broken_chain,
            "broken_seq": self.broken_seq,
            "reason": self.reason,
            "chains": [{"chain": c, "seq": s, "hash": h} for c, (s, h) in sorted((self.heads or {}).items())],
            "digest": heads_digest(self.heads or {}),
        }


def heads_digest(heads: dict[int, tuple[int, str]]) -> str:
    """One hash over every chain's head: what an operator keeps outside the database (a notary, a signed
    report) to detect a rewrite of whole chains later. Chains with no entry are left out, so adding
    empty heads does not change it."""
    text = "".join(f"{c}:{s}:{h}\n" for c, (s, h) in sorted(heads.items()) if s)
    return hashlib.sha256(text.encode()).hexdigest()


def verify(batch: int = 5000) -> VerifyResult:
    """Walk every chain in order; report the first entry whose hash, link or sequence is wrong, and each
    head that does not match its chain's last entry (truncation)."""
    head_rows = {h.id: (h.seq, h.hash) for h in AuditHead.objects.all()}
    chains = sorted(set(head_rows) | set(AuditEntry.objects.values_list("chain", flat=True).distinct()))
    checked, heads = 0, {}
    for chain in chains:
        prev_hash, expected_seq, last_seq = GENESIS, 1, 0
        while True:
            rows = list(AuditEntry.objects.filter(chain=chain, seq__gte=expected_seq).order_by("seq")[:batch])
            if not rows:
                break
            for entry in rows:
                broken = (
                    "missing entry (deleted row or gap)"
                    if entry.seq != expected_seq
                    else "link to the previous entry is broken"
                    if entry.prev_hash != prev_hash
                    else "content does not match its hash (edited row)"
                    if compute_hash(prev_hash, entry) != entry.hash
                    else ""
                )
                if broken:
                    seq = expected_seq if entry.seq != expected_seq else entry.seq
                    return VerifyResult(False, checked, seq, broken, chain, heads)
                prev_hash, expected_seq, checked, last_seq = entry.hash, entry.seq + 1, checked + 1, entry.seq
        head = head_rows.get(chain)
        if head is None and last_seq:
            return VerifyResult(False, checked, last_seq + 1, "chain has no head row", chain, heads)
        if head and (head[0] != last_seq or head[1] != prev_hash):
            return VerifyResult(
                False,
                checked,
                last_seq + 1,
                "chain head does not match the last entry (truncated)",
                chain,
                heads,
            )
        heads[chain] = (last_seq, prev_hash)
    return VerifyResult(True, checked, heads=heads)
