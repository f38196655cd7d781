"""Django's ``flush``, able to empty the journal on SQLite too.

Flushing is the explicit "empty every table" of an administrator and of the test runner between
transactional tests. PostgreSQL flushes with TRUNCATE, which the append-only row triggers do not see;
SQLite flushes with DELETE, which they refuse. So on SQLite this command lifts the ledger's triggers for
the flush and then puts back exactly those that were there, even when the flush fails. Outside a flush,
row-level UPDATE and DELETE stay refused.
"""

from django.core.management.commands.flush import Command as DjangoFlush
from django.db import connections


class Command(DjangoFlush):
    help = DjangoFlush.help + " (On SQLite the ledger's append-only triggers are lifted for the flush.)"

    def handle(self, **options):
        connection = connections[options["database"]]
        if connection.vendor != "sqlite":
            return super().handle(**options)
        with connection.cursor() as cur:
            cur.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name IN ('ledger_journalentry', 'ledger_journalline')"
            )
            present = cur.fetchall()
            for name, _sql in present:
                cur.execute(f'DROP TRIGGER IF EXISTS "{name}"')
        try:
            return super().handle(**options)
        finally:
            with connection.cursor() as cur:
                for _name, sql in present:
                    cur.execute(sql)
