"""The search index follows every ``Listing.save()``: see ``index.py`` for why this is enough."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from chanlian.trade.models import Listing

from .index import INDEXED_FIELDS, refresh_listing


@receiver(post_save, sender=Listing, dispatch_uid="matching.refresh_listing")
def _listing_saved(sender, instance, created, update_fields=None, raw=False, **kwargs):
    if raw:  # fixtures: the index is rebuilt by ``matching_reindex``
        return
    if update_fields is not None and not (set(update_fields) & INDEXED_FIELDS):
        return  # a stock change (available_quantity) alters nothing searchable
    refresh_listing(instance)
