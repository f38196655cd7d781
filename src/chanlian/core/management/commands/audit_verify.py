"""``chanlian audit-verify``: walk the audit hash chains and name the first broken link; print each
chain's head and the digest over them, to keep outside the database."""

import json

from django.core.management.base import BaseCommand, CommandError

from chanlian.core.audit import heads_digest, verify


class Command(BaseCommand):
    help = "Verify the tamper-evident audit log; exits 1 at the first broken link."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        result = verify()
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict()))
        elif result.ok:
            used = {c: h for c, h in result.heads.items() if h[0]}
            self.stdout.write(
                self.style.SUCCESS(
                    f"audit chain intact: {result.checked} entries verified in {len(used)} chain(s)"
                )
            )
            for chain, (seq, digest) in sorted(used.items()):
                self.stdout.write(f"  chain {chain}: #{seq} {digest}")
            self.stdout.write(f"heads digest: {heads_digest(result.heads)}")
        if not result.ok:
            raise CommandError(
                f"audit chain {result.broken_chain} broken at entry #{result.broken_seq}: {result.reason} "
                f"({result.checked} entries before it verified)"
            )
