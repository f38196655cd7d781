"""``chanlian insights refresh [--rebuild] [--compact]`` and ``chanlian insights status``.

A refresh appends the changed orders (``snapshot``) and then the changed finance facts (``financing``)."""

import json

from django.core.management.base import BaseCommand

from chanlian.insights import financing, market_prices, releases, snapshot, synth


class Command(BaseCommand):
    help = "The analytics store: refresh the Parquet snapshot of the trade facts, or show its state."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        refresh = sub.add_parser("refresh", help="append the orders changed since the last refresh")
        refresh.add_argument("--rebuild", action="store_true", help="drop the store and snapshot everything")
        refresh.add_argument("--compact", action="store_true", help="then merge the parts into one")
        sub.add_parser("status", help="the store's directory, watermark and parts")
        synth.add_parser(sub)  # synth --lines N [--clusters N --seed S --dir PATH]
        releases.add_parser(sub)  # index-release [--cluster ID] [--frequency F] [--categories]
        market_prices.add_parser(sub)  # import-prices CLUSTER FILE --user NAME [--source S]

    def handle(self, *args, action, **options):
        if action == "synth":
            return synth.command(self, options)
        if action == "index-release":
            return releases.command(self, options)
        if action == "import-prices":
            return market_prices.command(self, options)
        if action == "status":
            self.stdout.write(json.dumps({**snapshot.status(), "financing": financing.status()}, indent=1))
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
        fin = financing.refresh(rebuild=options["rebuild"])
        if fin.total:
            counts = ", ".join(f"{n} {name}" for name, n in fin.rows.items() if n)
            self.stdout.write(f"Finance: appended {counts}.")
        else:
            self.stdout.write("Finance: nothing changed since the last refresh; nothing written.")
