"""``chanlian ledger_verify``: check that the books balance and that every reversal mirrors its original."""

import json

from django.core.management.base import BaseCommand, CommandError

from chanlian.ledger.selectors import verify_ledger
from chanlian.registry.models import Cluster


class Command(BaseCommand):
    help = "Verify the settlement ledger (every entry balances, reversals mirror); exits 1 on a problem."

    def add_arguments(self, parser):
        parser.add_argument("--cluster", type=int, help="only this cluster's books")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        cluster = None
        if options.get("cluster"):
            cluster = Cluster.objects.filter(pk=options["cluster"]).first()
            if cluster is None:
                raise CommandError(f"no cluster {options['cluster']}")
        result = verify_ledger(cluster)
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False))
        elif result.ok:
            self.stdout.write(
                self.style.SUCCESS(f"ledger sound: {result.entries} entries, {result.lines} lines verified")
            )
        if not result.ok:
            for problem in result.problems:
                self.stderr.write(problem)
            raise CommandError(
                f"ledger has {len(result.problems)} problem(s); the first: {result.problems[0]}"
            )
