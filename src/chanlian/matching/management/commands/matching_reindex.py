from django.core.management.base import BaseCommand

from chanlian.matching.index import rebuild_index


class Command(BaseCommand):
    help = "Rebuild the listing search index (matching_listingsearch, matching_listinggram)."

    def handle(self, *args, **options):
        count = rebuild_index()
        self.stdout.write(f"indexed {count} published listings")
