"""The search index of published listings: a side table of normalised text and one of character bigrams.

Why a side table rather than FTS5 / pg_trgm (docs/matching.md, "Chinese search"): SQLite's FTS5 trigram
tokenizer finds nothing for a query under three characters and PostgreSQL's pg_trgm needs a UTF-8 locale
and extracts no trigram from a two-character LIKE pattern, so neither serves 铁观 or 不锈 through an index.
Character bigrams in an ordinary table with a ``(gram, listing)`` B-tree index do, identically on both
databases. Rows exist only for **published** listings; ``index.refresh_listing`` / ``refresh_listings`` keep
them in step (``post_save`` on ``Listing``, ``listings_imported`` for bulk imports) and
``chanlian matching_reindex`` rebuilds them all.
"""

from django.db import models


class ListingSearch(models.Model):
    """One published listing's searchable text, normalised (NFKC, case-folded, without separators), and
    its first-tier unit price (tiers change only while a listing is unpublished, so it cannot drift)."""

    listing = models.OneToOneField(
        "trade.Listing", primary_key=True, on_delete=models.CASCADE, related_name="search_entry"
    )
    text = models.TextField()  # title + description + category + spec values (zh and en) + supplier + origin
    title = models.CharField(max_length=400)
    price = models.DecimalField(max_digits=20, decimal_places=2)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["price", "listing"], name="listing_search_price")]

    def __str__(self) -> str:
        return f"search entry of listing {self.listing_id}"


class ListingGram(models.Model):
    """One distinct character bigram of a listing's searchable text. A query term matches the listings
    that have every bigram of it (the index) and contain it (a LIKE check on the few candidates)."""

    listing = models.ForeignKey("trade.Listing", on_delete=models.CASCADE, related_name="+", db_index=False)
    gram = models.CharField(max_length=2)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["listing", "gram"], name="listing_gram_unique")]
        indexes = [models.Index(fields=["gram", "listing"], name="listing_gram_lookup")]

    def __str__(self) -> str:
        return f"{self.listing_id}:{self.gram}"
