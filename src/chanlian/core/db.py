"""Database helpers shared by the apps."""

from __future__ import annotations

from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections


@contextmanager
def unprepared(using: str = DEFAULT_DB_ALIAS):
    """Statements in this block are planned for their parameters every time, never prepared.

    On PostgreSQL the connection prepares a statement the Nth time it runs it (settings.py,
    ``CHANLIAN_DB_PREPARE_THRESHOLD``); after five executions PostgreSQL may then use one *generic* plan for
    every parameter value. That suits the platform's writes (a voucher move: the server's CPU 1.63 →
    1.08 ms per call) but not a search whose best plan depends on the words searched: at 1 M listings
    the matching search API took p50 71 ms prepared against 61 ms unprepared (bench/matching.py,
    docs/benchmarks.md "Matching"). Elsewhere, or with preparation off, this does nothing."""
    connection = connections[using]
    raw = connection.connection if connection.vendor == "postgresql" else None
    if raw is None or getattr(raw, "prepare_threshold", None) is None:
        yield
        return
    threshold = raw.prepare_threshold
    raw.prepare_threshold = None
    try:
        yield
    finally:
        raw.prepare_threshold = threshold


class Columns:
    """A model's concrete columns for a hand-written ``SELECT``, and the rows it returns made instances as
    the ORM makes them (``from_db``, each field's database converters applied) — for the few hot reads
    where building and compiling a queryset cost more than the statement (a voucher move, an order's
    token lookup: bench/finance.py, bench/orders.py). ``Columns.of(model)`` is cached per model, database
    vendor and table alias."""

    _cache: dict[tuple, Columns] = {}

    def __init__(self, model, db, alias: str | None = None, only: tuple[str, ...] | None = None):
        ops, table = db.ops, model._meta.db_table
        prefix = ops.quote_name(alias or table)
        fields = model._meta.concrete_fields
        if only is not None:  # a subset, as ``QuerySet.only``: the instance defers the rest
            fields = [f for f in fields if f.name in only or f.attname in only or f.primary_key]
        self.model = model
        self.sql = ", ".join(f"{prefix}.{ops.quote_name(f.column)}" for f in fields)
        self.names = [f.attname for f in fields]
        self.converters = []
        for i, f in enumerate(fields):
            expression = f.get_col(table)
            convs = f.get_db_converters(db) + db.ops.get_db_converters(expression)
            if convs:
                self.converters.append((i, convs, expression))

    @classmethod
    def of(
        cls,
        model,
        alias: str | None = None,
        only: tuple[str, ...] | None = None,
        using: str = DEFAULT_DB_ALIAS,
    ) -> Columns:
        db = connections[using]
        key = (model, db.vendor, alias, only)
        if key not in cls._cache:
            cls._cache[key] = cls(model, db, alias, only)
        return cls._cache[key]

    def __len__(self) -> int:
        return len(self.names)

    def instance(self, row, using: str = DEFAULT_DB_ALIAS, start: int = 0):
        """``row[start:start + len(self)]`` as an instance of the model."""
        db = connections[using]
        values = list(row[start : start + len(self.names)])
        for i, convs, expression in self.converters:
            for convert in convs:
                values[i] = convert(values[i], expression, db)
        return self.model.from_db(db.alias, self.names, values)

    def by_pk(self, pk, using: str = DEFAULT_DB_ALIAS):
        """The row ``pk`` as an instance, or ``None``: ``Model.objects.filter(pk=pk).first()`` without
        building a queryset."""
        db = connections[using]
        key = ("by_pk", self.model, db.vendor, self.sql)
        if key not in _SQL:
            qn, meta = db.ops.quote_name, self.model._meta
            _SQL[key] = f"SELECT {self.sql} FROM {qn(meta.db_table)} WHERE {qn(meta.pk.column)} = %s"  # noqa: S608
        with db.cursor() as cur:
            cur.execute(_SQL[key], [pk])
            row = cur.fetchone()
        return None if row is None else self.instance(row, using)

    def where(self, column: str, value, using: str = DEFAULT_DB_ALIAS) -> list:
        """The rows whose ``column`` equals ``value``, as instances, in no particular order."""
        db = connections[using]
        key = ("where", self.model, db.vendor, self.sql, column)
        if key not in _SQL:
            qn, meta = db.ops.quote_name, self.model._meta
            _SQL[key] = f"SELECT {self.sql} FROM {qn(meta.db_table)} WHERE {qn(column)} = %s"  # noqa: S608
        with db.cursor() as cur:
            cur.execute(_SQL[key], [value])
            return [self.instance(row, using) for row in cur.fetchall()]


_SQL: dict[tuple, str] = {}
