"""Shared by the tests of the SQL permission rules (``core.permissions.restrict_sql``): the rows a rule
selects, and a user whose principal is read afresh."""

from django.db import connection

from chanlian.core.permissions import restrict_sql


def sql_ids(model, user, action) -> set[int] | None:
    """The ids of ``model``'s rows the SQL rule lets ``user`` ``action``; ``None`` where no rule covers it."""
    allowed = restrict_sql(model, user, action)
    if allowed is None:
        return None
    predicate, params = allowed
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cur:
        cur.execute(f"SELECT {table}.id FROM {table} WHERE {predicate}", params)
        return {row[0] for row in cur.fetchall()}


def fresh(user):
    """``user`` with its cached principal dropped, so the next rule or policy reads it anew."""
    user.__dict__.pop("_chanlian_principal", None)
    return user
