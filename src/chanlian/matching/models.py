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

    # No foreign-key constraint in the database (``db_constraint=False``): a listing has about 120
    # bigram rows, and PostgreSQL checked the deferred constraint of each at commit — 1.18 M checks, 4 of
    # the 16.6 s of a 10,000-listing published import (docs/benchmarks.md). The rows are derived from the
    # listing and written only by ``index.py``, which reads the listing first; deleting a listing still
    # deletes its rows (Django's ``CASCADE``), and ``matching_reindex`` drops rows of unpublished ones.
    listing = models.ForeignKey(
        "trade.Listing", on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    gram = models.CharField(max_length=2)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["listing", "gram"], name="listing_gram_unique")]
        indexes = [models.Index(fields=["gram", "listing"], name="listing_gram_lookup")]

    def __str__(self) -> str:
        return f"{self.listing_id}:{self.gram}"


class ListingFacts(models.Model):
    """What the ranking of a demand's matches reads of one published listing, in one row of its own.

    ``selectors.demand_matches`` computes bounds of every candidate's score in SQL (``scoring.bounds_sql``):
    from ``trade_listing`` that meant per candidate a heap page of the listing, a probe of its origin
    county for the centroid and one of its price tiers — at 1 M listings the two probes alone were 37 of
    the 80 ms of a tomato demand's statement. Here the same facts sit together: the pack, category,
    cluster and supplier, unit, MOQ, stock, lead time, the origin's centroid, the spec (GIN-indexed on
    PostgreSQL) and the tiers as JSON, highest minimum quantity first
    (``[["5000.000", "4.20"], ["0.001", "4.80"]]``), so the tier for a quantity is the first whose
    minimum it reaches.

    Rows exist only for **published** listings, kept like the search rows (``index.refresh_listing`` /
    ``refresh_listings`` on publish, edit, pause, close; tiers change only while a listing is not
    published). Stock, MOQ and lead time also change on a published listing — an order takes or
    releases stock with a queryset ``UPDATE`` — so a database trigger (migration ``matching.0003``)
    copies those three columns on every ``UPDATE`` of ``trade_listing`` that changes them, whoever
    issues it; and the supplier's verified membership of the cluster is copied the same way from
    ``registry_membership`` (a probe of the memberships per candidate was 10 of the 65 ms of a
    7,000-candidate statement at 1 M listings). Scores shown to users are still computed in Python from
    the listing itself; these rows only decide which candidates are scored (docs/matching.md,
    "Performance")."""

    listing = models.OneToOneField(
        "trade.Listing", primary_key=True, on_delete=models.CASCADE, related_name="match_facts"
    )
    pack_key = models.CharField(max_length=64)
    category = models.CharField(max_length=64)
    cluster = models.ForeignKey(
        "registry.Cluster", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    supplier = models.ForeignKey(
        "registry.Enterprise", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    unit = models.CharField(max_length=64)
    moq = models.DecimalField(max_digits=18, decimal_places=3)
    available_quantity = models.DecimalField(max_digits=18, decimal_places=3)
    lead_time_days = models.PositiveIntegerField(default=0)
    # The supplier is a verified member of the listing's cluster now: copied by triggers on
    # ``registry_membership`` (migration 0003) whenever a membership is made, decided or removed.
    supplier_verified = models.BooleanField(default=False)
    lat = models.FloatField(null=True)  # the origin county's centroid (regions.Region), degrees
    lon = models.FloatField(null=True)
    spec = models.JSONField(default=dict)
    tiers = models.JSONField(default=list)

    class Meta:
        indexes = [
            models.Index(fields=["pack_key", "category"], name="listing_facts_category"),
            models.Index(fields=["supplier", "cluster"], name="listing_facts_supplier"),  # the triggers' rows
        ]
        verbose_name_plural = "listing facts"

    def __str__(self) -> str:
        return f"match facts of listing {self.listing_id}"
