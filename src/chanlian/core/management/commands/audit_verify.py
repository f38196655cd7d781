"""``chanlian audit-verify``: walk the audit hash chain and name the first broken link."""

import json

from django.core.management.base import BaseCommand, CommandError

from chanlian.core.audit import verify


class Command(BaseCommand):
    help = "Verify the tamper-evident audit log; exits 1 at the first broken link."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        result = verify()
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict()))
        elif result.ok:
            self.stdout.write(self.style.SUCCESS(f"audit chain intact: {result.checked} entries verified"))
        if not result.ok:
            raise CommandError(
                f"audit chain broken at entry #{result.broken_seq}: {result.reason} "
                f"({result.checked} entries before it verified)"
            )
