"""The search index follows every ``Listing.save()`` and every bulk import: see ``index.py`` for why this
is enough.

``trade.services.bulk`` inserts imported listings with ``bulk_create`` (no ``post_save``) and sends
``listings_imported`` once per import instead; its published listings are indexed here in bulk
(``refresh_listings``), so no per-listing handler runs for them.
"""

from django.db.models.signals import post_save
from django.dispatch import receiver

from chanlian.trade.models import Listing
from chanlian.trade.services.bulk import listings_imported

from .index import INDEXED_FIELDS, refresh_listing, refresh_listings


@receiver(post_save, sender=Listing, dispatch_uid="matching.refresh_listing")
def _listing_saved(sender, instance, created, update_fields=None, raw=False, **kwargs):
    if raw:  # fixtures: the index is rebuilt by ``matching_reindex``
        return
    if update_fields is not None and not (set(update_fields) & INDEXED_FIELDS):
        return  # a stock change (available_quantity) alters nothing searchable
    refresh_listing(instance)


@receiver(listings_imported, sender=Listing, dispatch_uid="matching.refresh_imported_listings")
def _listings_imported(sender, listing_ids, published, **kwargs):
    if not published:  # a new draft has no search rows and nothing to drop
        return
    refresh_listings(listing_ids)
