"""The tamper-evident audit log.

``record`` is called by every service write, inside the service's transaction: if the write rolls back,
so does its entry. The chain is ``hash_n = sha256(hash_{n-1} || canonical(entry_n))``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from .models import AuditEntry, AuditHead

GENESIS = "0" * 64


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
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
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.record must run inside the service's transaction")
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = obj.pk if object_id is None else object_id
    data: dict[str, Any] = {}
    if before is not None:
        data["before"] = before
    if after is not None:
        data["after"] = after
    data.update(extra)
    seq, prev_hash = _lock_head()
    entry = AuditEntry(
        seq=seq + 1,
        created_at=timezone.now(),
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=getattr(actor, "username", "") or "system",
        action=action,
        object_type=object_type or "",
        object_id=str(object_id if object_id is not None else ""),
        cluster_id=cluster_id,
        enterprise_id=enterprise_id,
        data=json.loads(canonical(_jsonable(data))),
        prev_hash=prev_hash,
    )
    entry.hash = compute_hash(prev_hash, entry)
    _insert(entry)
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {_HEAD} SET seq = %s, hash = %s WHERE id = 1", [entry.seq, entry.hash])  # noqa: S608
    return entry


_HEAD = AuditHead._meta.db_table
_ENTRY_FIELDS = [f for f in AuditEntry._meta.concrete_fields if not f.primary_key]


def _insert(entry: AuditEntry) -> None:
    """``entry.save()`` as one plain ``INSERT … RETURNING id``: the same values, prepared by the fields
    themselves (the JSON adapted per database), without the ORM's save machinery (no signals listen on
    audit entries). Where the database cannot return the id, the ORM saves it."""
    if not connection.features.can_return_columns_from_insert:
        entry.save()
        return
    ops = connection.ops
    columns = ", ".join(ops.quote_name(f.column) for f in _ENTRY_FIELDS)
    marks = ", ".join(["%s"] * len(_ENTRY_FIELDS))
    params = [f.get_db_prep_save(getattr(entry, f.attname), connection) for f in _ENTRY_FIELDS]
    with connection.cursor() as cur:
        table = AuditEntry._meta.db_table
        cur.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING id", params)  # noqa: S608
        entry.pk = cur.fetchone()[0]
    entry._state.adding, entry._state.db = False, connection.alias


def _lock_head() -> tuple[int, str]:
    """The chain head's ``(seq, hash)``, its row locked until the transaction ends (``FOR UPDATE`` where
    the database has row locks; SQLite's single writer serialises anyway): every audited write queues
    here, so the chain has no fork. Plain SQL — this runs in every write and the ORM's query building
    was a tenth of an order placement's time."""
    sql = f"SELECT seq, hash FROM {_HEAD} WHERE id = 1"  # noqa: S608 — the model's table name
    if connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    with connection.cursor() as cur:
        cur.execute(sql)
        row = cur.fetchone()
    if row is None:  # the first audited write of a new database
        head, _ = AuditHead.objects.select_for_update().get_or_create(id=1)
        return head.seq, head.hash
    return row[0], row[1]


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    broken_seq: int | None = None
    reason: str = ""

    def as_dict(self) -> dict:
        return {"ok": self.ok, "checked": self.checked, "broken_seq": self.broken_seq, "reason": self.reason}


def verify(batch: int = 5000) -> VerifyResult:
    """Walk the chain in order; report the first entry whose hash, link or sequence is wrong."""
    prev_hash, expected_seq, checked = GENESIS, 1, 0
    last_seq = 0
    while True:
        rows = list(AuditEntry.objects.filter(seq__gte=expected_seq).order_by("seq")[:batch])
        if not rows:
            break
        for entry in rows:
            if entry.seq != expected_seq:
                return VerifyResult(False, checked, expected_seq, "missing entry (deleted row or gap)")
            if entry.prev_hash != prev_hash:
                return VerifyResult(False, checked, entry.seq, "link to the previous entry is broken")
            if compute_hash(prev_hash, entry) != entry.hash:
                return VerifyResult(False, checked, entry.seq, "content does not match its hash (edited row)")
            prev_hash, expected_seq, checked, last_seq = entry.hash, entry.seq + 1, checked + 1, entry.seq
    head = AuditHead.objects.filter(id=1).first()
    if head and (head.seq != last_seq or head.hash != prev_hash):
        return VerifyResult(
            False, checked, last_seq + 1, "chain head does not match the last entry (truncated)"
        )
    return VerifyResult(True, checked)
