"""The journal is append-only in the database too: triggers abort any UPDATE or DELETE of an entry or a
line, whoever issues it (the ORM, a raw SQL session, an admin tool). Inserts are untouched.

Both raise an integrity error (PostgreSQL SQLSTATE 23001 restrict_violation; SQLite RAISE(ABORT), a
constraint error), which Django reports as ``IntegrityError``. TRUNCATE, a table owner's operation that
row triggers do not see, is left alone: the test suite's flush between transactional tests uses it. On
SQLite, which flushes with DELETE, the ledger's ``flush`` command lifts these triggers for the flush.
"""

from django.db import migrations

TABLES = ("ledger_journalentry", "ledger_journalline")

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % refused; post a reversing entry', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END
$$;
"""


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION, params=None)  # its % are plpgsql's, not placeholders
        for table in TABLES:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
            )
    elif vendor == "sqlite":
        for table in TABLES:
            for op in ("UPDATE", "DELETE"):
                schema_editor.execute(
                    f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: {op} on {table} refused; "
                    "post a reversing entry'); END"
                )
    else:  # pragma: no cover - the project supports these two
        raise RuntimeError(f"no append-only triggers written for {vendor}")


def uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        schema_editor.execute("DROP FUNCTION IF EXISTS ledger_append_only()")
    elif vendor == "sqlite":
        for table in TABLES:
            for op in ("update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_{op}")


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [migrations.RunPython(install, uninstall)]
