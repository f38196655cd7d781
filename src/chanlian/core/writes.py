"""A hot service's writes in as few statements as the database allows.

Most services write through the ORM. The few that run hundreds of times a second (a voucher move:
bench/finance.py, docs/benchmarks.md "Finance") write rows as plain SQL prepared by the fields themselves
— defaults, ``auto_now_add`` and the JSON adaptation are the fields' own; no signal listens on those
models — and, on PostgreSQL, send **all** of them as one statement of data-modifying CTEs::

    WITH w0 AS (UPDATE …), w1 AS (INSERT …), w2 AS (INSERT …) SELECT 1

Each statement costs the service ≈ 64 µs of Python and the server ≈ 24 µs of CPU whatever it does
(measured with a ``SELECT 1`` loop), so a move of ten statements spent half its CPU on being ten. For
that, what a later row refers to must be known before the statement: the caller reads the ids it needs
(``nextval``) and the audit chain's head (``core.audit.head_sql``) in the statement that locks its row,
and builds every row in Python. Elsewhere (SQLite) each write runs as it is called, one statement each,
returning the ids, and the audit entry is recorded as usual: the same calls, the same rows.
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections

from . import audit

_INSERT_SQL: dict[tuple, tuple[str, list, bool]] = {}
UNNEST_FROM = 6  # rows; fewer go as VALUES (insert_sql)
_UPDATE_SQL: dict[tuple, tuple[str, list]] = {}


def _db(using: str = DEFAULT_DB_ALIAS):
    """The database wrapper itself, not the ``connection`` proxy: each attribute read through the proxy
    is a context-local lookup, and a move read dozens (bench/finance.py profile)."""
    return connections[using]


def _value(obj, field):
    """The field's value to save; a foreign key assigned an object that was saved after the assignment
    (its id set by ``insert_rows``) takes that id, as ``Model.save`` does."""
    if field.is_relation and getattr(obj, field.attname) is None and field.is_cached(obj):
        related = field.get_cached_value(obj)
        if related is not None and related.pk is not None:
            setattr(obj, field.attname, related.pk)
    return field.pre_save(obj, True)


def insert_sql(db, model, objs: list, *, ignore_conflicts: bool = False, returning: bool = True):
    """``(sql, params, with_pk)`` of one multi-row ``INSERT`` of ``objs``. The primary key is written
    when every row has one (ids read beforehand with ``nextval``), else left to the database and, with
    ``returning``, read back (``RETURNING id``).

    On PostgreSQL ``UNNEST_FROM`` rows or more go as one array per column, ``INSERT … SELECT * FROM
    UNNEST(%s::type[], …)`` (as Django's ``bulk_create`` does): the same statement text and as many
    parameters whatever the number of rows. Measured (100 rolled-back inserts of voucher events): 3 rows
    0.31 ms Python as ``VALUES``, 0.40 as arrays; 10 rows 0.65 / 0.59; 100 rows 3.70 / 2.82 ms, and
    PostgreSQL 1.10 / 0.75 ms."""
    with_pk = all(obj.pk is not None for obj in objs)
    unnest = db.vendor == "postgresql" and len(objs) >= UNNEST_FROM
    key = (db.vendor, model, len(objs) if not unnest else "unnest", ignore_conflicts, returning, with_pk)
    if key not in _INSERT_SQL:
        ops, meta = db.ops, model._meta
        fields = [f for f in meta.concrete_fields if with_pk or not f.primary_key]
        if unnest:
            arrays = ", ".join(f"(%s)::{f.db_type(db).split('(')[0]}[]" for f in fields)
            rows = f"SELECT * FROM UNNEST({arrays})"  # noqa: S608 — the fields' column types
        else:
            row = "(" + ", ".join(["%s"] * len(fields)) + ")"
            rows = "VALUES " + ", ".join([row] * len(objs))
        sql = "INSERT INTO {} ({}) {}".format(
            ops.quote_name(meta.db_table),
            ", ".join(ops.quote_name(f.column) for f in fields),
            rows,
        )
        if ignore_conflicts:
            sql += " ON CONFLICT DO NOTHING"
        elif returning and not with_pk:
            sql += f" RETURNING {ops.quote_name(meta.pk.column)}"
        _INSERT_SQL[key] = (sql, fields, returning and not with_pk and not ignore_conflicts)
    sql, fields, returns = _INSERT_SQL[key]
    if unnest:
        params = [[f.get_db_prep_save(_value(obj, f), db) for obj in objs] for f in fields]
    else:
        params = [f.get_db_prep_save(_value(obj, f), db) for obj in objs for f in fields]
    return sql, params, returns


def _saved(objs: list, db) -> None:
    for obj in objs:
        obj._state.adding, obj._state.db = False, db.alias


def insert_rows(model, objs: list, *, ignore_conflicts: bool = False) -> list:
    """``objs`` (unsaved instances of ``model``) in **one** multi-row ``INSERT``, their ``pk`` set
    (``RETURNING id``, unless given). ``ignore_conflicts``: ``ON CONFLICT DO NOTHING``, no ids. Where the
    database cannot return the ids of a multi-row insert, ``bulk_create``."""
    if not objs:
        return objs
    db = _db()
    if not db.features.can_return_rows_from_bulk_insert:
        return model.objects.bulk_create(objs, ignore_conflicts=ignore_conflicts)
    sql, params, returns = insert_sql(db, model, objs, ignore_conflicts=ignore_conflicts)
    with db.cursor() as cur:
        cur.execute(sql, params)
        if returns:
            for obj, (pk,) in zip(objs, cur.fetchall(), strict=True):
                obj.pk = pk
    _saved(objs, db)
    return objs


def update_sql(db, model, pk, where: dict | None = None, **fields) -> tuple[str, list]:
    """``UPDATE`` ``fields`` of the row ``pk`` (and each ``where`` column = value)."""
    where = where or {}
    key = (db.vendor, model, tuple(fields), tuple(where))
    if key not in _UPDATE_SQL:
        ops, meta = db.ops, model._meta
        cols = [meta.get_field(name) for name in fields]
        sql = "UPDATE {} SET {} WHERE {} = %s".format(  # noqa: S608 — names from the model, values as parameters
            ops.quote_name(meta.db_table),
            ", ".join(f"{ops.quote_name(f.column)} = %s" for f in cols),
            ops.quote_name(meta.pk.column),
        )
        sql += "".join(f" AND {ops.quote_name(meta.get_field(name).column)} = %s" for name in where)
        _UPDATE_SQL[key] = (sql, cols)
    sql, cols = _UPDATE_SQL[key]
    values = [getattr(v, "pk", v) if f.is_relation else v for f, v in zip(cols, fields.values(), strict=True)]
    params = [f.get_db_prep_save(v, db) for f, v in zip(cols, values, strict=True)] + [pk, *where.values()]
    return sql, params


def update_row(model, pk, where: dict | None = None, **fields) -> int:
    """``UPDATE`` ``fields`` of the row ``pk`` (and ``where`` column = value) in plain SQL; the rows
    changed (0 or 1)."""
    db = _db()
    sql, params = update_sql(db, model, pk, where, **fields)
    with db.cursor() as cur:
        cur.execute(sql, params)
        return cur.rowcount


class Writes:
    """A service's writes after its checks. ``head``: this transaction's audit chain head
    ``(chain, seq, hash)``, already locked by the caller's statement (``core.audit.head_sql``). With it,
    on PostgreSQL, the writes are collected and ``send`` sends them as one statement; the rows must then
    carry every id another row refers to. Without it, or elsewhere, each write runs when it is called.

    Only unconditional writes belong here: the statement reports no row counts. A write that depends on
    the state it finds is decided by the caller's locking statement first.

    In one statement the sub-statements see the same snapshot and PostgreSQL does not say which of two
    updates of one row wins, nor in which order rows of two ``INSERT``s get their ids. So the updates of
    one row are merged into one ``UPDATE`` (later fields win, as they would one after another), the audit
    entries go as one ``INSERT`` in chain order, and the head moves once, to the last entry's link."""

    def __init__(self, head: tuple[int, int, str] | None = None, using: str = DEFAULT_DB_ALIAS):
        self.db = _db(using)
        self.head = head
        self.fused = head is not None and self.db.vendor == "postgresql"
        self._parts: list[tuple[str, list]] = []
        self._updates: dict[tuple, dict] = {}
        self._entries: list = []

    def insert(self, model, objs: list, *, ignore_conflicts: bool = False) -> list:
        """``insert_rows``; collected, the rows' ids are theirs or left unset."""
        if not self.fused:
            return insert_rows(model, objs, ignore_conflicts=ignore_conflicts)
        if objs:
            sql, params, _returns = insert_sql(
                self.db, model, objs, ignore_conflicts=ignore_conflicts, returning=False
            )
            self._parts.append((sql, params))
            _saved(objs, self.db)
        return objs

    def update(self, model, pk, **fields) -> None:
        """``UPDATE`` ``fields`` of the row ``pk``, which the caller holds locked."""
        if not self.fused:
            update_row(model, pk, **fields)
            return
        self._updates.setdefault((model, pk), {}).update(fields)

    def audit(self, actor, action: str, obj=None, **kwargs):
        """``core.audit.record``; collected, the entry (linked to ``head``), the head moved at ``send``."""
        if not self.fused:
            return audit.record(actor, action, obj, **kwargs)
        entry = audit.new_entry(actor, action, obj, head=self.head, **kwargs)
        self._entries.append(entry)
        self.head = (entry.chain, entry.seq, entry.hash)
        return entry

    def send(self) -> None:
        """The collected writes as one statement (nothing where each ran when called)."""
        parts, self._parts = self._parts, []
        parts += [update_sql(self.db, model, pk, **fields) for (model, pk), fields in self._updates.items()]
        self._updates = {}
        if self._entries:  # one INSERT, so the entries' ids follow their order in the chain
            parts += [audit.entries_sql(self.db, self._entries), audit.head_move_sql(*self.head)]
            self._entries = []
        if not parts:
            return
        sql = "WITH " + ", ".join(f"w{i} AS ({s})" for i, (s, _p) in enumerate(parts)) + " SELECT 1"
        with self.db.cursor() as cur:
            cur.execute(sql, [p for _s, params in parts for p in params])
