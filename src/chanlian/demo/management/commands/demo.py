"""``chanlian demo``: load the demo clusters (idempotent) and print the demo logins."""

import time

from django.core.management.base import BaseCommand, CommandError

from chanlian.demo import builder
from chanlian.registry.models import Cluster


class Command(BaseCommand):
    help = "Load the demo clusters (idempotent; deterministic) and print the demo logins."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="load the demo even though the database already holds other clusters",
        )

    def handle(self, *args, force=False, **options):
        if builder.already_loaded():
            self.stdout.write("Demo data already loaded.")
        else:
            if Cluster.objects.exists() and not force:
                # Demo logins have a published password: never slip them into a real deployment.
                raise CommandError(
                    "This database already holds clusters that are not the demo's; refusing to add demo "
                    "logins with a published password. Use --force on a throw-away database."
                )
            started = time.perf_counter()
            summary = builder.build()
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo loaded: {summary['clusters']} clusters, {summary['enterprises']} enterprises "
                    f"({summary['verified_tea_members']} verified in the tea cluster, "
                    f"{summary['pending_tea']} pending)."
                )
            )
            trade = summary.get("trade")
            if trade:
                states = {}
                for per_cluster in trade["orders_by_state"].values():
                    for status, n in per_cluster.items():
                        states[status] = states.get(status, 0) + n
                self.stdout.write(
                    f"A year of trade: {trade['orders']} orders ("
                    + ", ".join(f"{s} {n}" for s, n in sorted(states.items()))
                    + f"), {trade['listings']} listings, {trade['demands']} RFQs with {trade['quotes']} "
                    f"quotes, {trade['invoices']} invoices, {trade['bank_statements']} bank statements; "
                    f"built in {time.perf_counter() - started:.1f} s."
                )
            finance = summary.get("finance")
            if finance:
                from chanlian.demo.finance import summary_line

                self.stdout.write(summary_line(finance))
        self.stdout.write(f"\nDemo logins (password: {builder.PASSWORD}):")
        for username, who in builder.LOGINS:
            self.stdout.write(f"  {username:<10} {who}")
