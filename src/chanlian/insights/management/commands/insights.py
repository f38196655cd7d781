"""``chanlian insights refresh [--rebuild] [--compact]`` and ``chanlian insights status``."""

import json

from django.core.management.base import BaseCommand

from chanlian.insights import snapshot


class Command(BaseCommand):
    help = "The analytics store: refresh the Parquet snapshot of the trade facts, or show its state."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        refresh = sub.add_parser("refresh", help="append the orders changed since the last refresh")
        refresh.add_argument("--rebuild", action="store_true", help="drop the store and snapshot everything")
        refresh.add_argument("--compact", action="store_true", help="then merge the parts into one")
        sub.add_parser("status", help="the store's directory, watermark and parts")

    def handle(self, *args, action, **options):
        if action == "status":
            self.stdout.write(json.dumps(snapshot.status(), indent=1))
            return
        result = snapshot.refresh(rebuild=options["rebuild"])
        if result.part:
            self.stdout.write(f"Appended {result.rows} order versions as {result.part}.")
        else:
            self.stdout.write("Nothing changed since the last refresh; nothing written.")
        if options["compact"]:
            c = snapshot.compact()
            if c.part:
                self.stdout.write(f"Compacted into {c.part} ({c.rows} orders).")
        self.stdout.write(f"Watermark: {result.watermark or '—'}")
