"""``chanlian demo``: load the demo clusters (idempotent) and print the demo logins."""

from django.core.management.base import BaseCommand

from chanlian.demo import builder


class Command(BaseCommand):
    help = "Load the demo clusters (idempotent; deterministic) and print the demo logins."

    def handle(self, *args, **options):
        if builder.already_loaded():
            self.stdout.write("Demo data already loaded.")
        else:
            summary = builder.build()
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo loaded: {summary['clusters']} clusters, {summary['enterprises']} enterprises "
                    f"({summary['verified_tea_members']} verified in the tea cluster, "
                    f"{summary['pending_tea']} pending)."
                )
            )
        self.stdout.write(f"\nDemo logins (password: {builder.PASSWORD}):")
        for username, who in builder.LOGINS:
            self.stdout.write(f"  {username:<10} {who}")
