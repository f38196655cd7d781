"""``chanlian finance expire [--as-of YYYY-MM-DD]``: the daily job of the lending module.

Approved or checked financing applications whose voucher matured before the lender disbursed expire, and
their claim on the asset is released (``lending.expire_applications``). Run it once a day, after midnight
China Standard Time (docs/finance.md, "Operations"); running it twice the same day changes nothing.
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date

from chanlian.finance import lending


class Command(BaseCommand):
    help = "Finance jobs: expire approved financings whose asset matured before disbursement."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        expire = sub.add_parser("expire", help="expire approved/checked applications whose asset matured")
        expire.add_argument("--as-of", default=None, help="the day to expire as of (default: today)")

    def handle(self, *args, action, **options):
        if action == "expire":
            day = None
            if options.get("as_of"):
                try:
                    day = parse_date(options["as_of"])
                except ValueError:
                    day = None
                if day is None:
                    raise CommandError("--as-of is a date YYYY-MM-DD.")
                if day > timezone.localdate():
                    raise CommandError("--as-of cannot be in the future: it would expire unmatured assets.")
            n = lending.expire_applications(day)
            self.stdout.write(f"Expired {n} financing application(s).")
