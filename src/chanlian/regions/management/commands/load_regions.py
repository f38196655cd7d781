"""``chanlian load_regions``: (re)load the shipped division list and centroids; safe to rerun."""

from django.core.management.base import BaseCommand

from chanlian.regions.loader import load_regions


class Command(BaseCommand):
    help = "Load or update regions from the data shipped in chanlian/regions/data (idempotent upsert)."

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default", help="Database alias (default: default).")

    def handle(self, *args, **options):
        load_regions(stdout=self.stdout, using=options["database"])
