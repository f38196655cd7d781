"""Keeping the search index (``ListingSearch`` + ``ListingGram``) in step with the listings.

The searchable text of a listing is its title, description, category name, spec values (choice keys and
their Chinese and English names, numbers with units, texts), the supplier's name and the origin county,
**normalised**: Unicode NFKC (full-width ＡＢＣ１２３ → ABC123), case-folded, every run of separators
(whitespace, punctuation) removed. Removing separators means 铁观音 毛茶 and 铁观音毛茶 are the same text,
so a buyer who types without spaces still finds a title written with them.

The bigrams are the distinct pairs of adjacent characters of that text. A query term of two or more
characters is matched through them (an index lookup per bigram), then checked with a LIKE on the
candidates' text, so the result is exactly "the listing's text contains the term". A one-character term
has no bigram and is a LIKE over the index rows alone (a scan, documented).

Rows exist only for published listings. ``refresh_listing`` runs from a ``post_save`` signal on
``Listing`` (see ``signals.py``): publishing builds the row, any other status drops it. Price tiers
change only while a listing is a draft or paused (``trade.choices.LISTING_EDITABLE``) and every return
to ``published`` saves the listing, so the first-tier price stored at publication cannot go stale.
``rebuild_index()`` (``chanlian matching_reindex``) rebuilds everything, e.g. after a bulk load that
bypassed ``save()``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from django.db import transaction

PUBLISHED = "published"
# Fields whose change alters a listing's row; a save touching only others (stock) changes nothing here.
INDEXED_FIELDS = frozenset(
    {"status", "title", "description", "category", "spec", "supplier", "origin", "cluster"}
)
MAX_TEXT = 8000  # characters of normalised text indexed per listing (title first, description capped)
_SEPARATORS = re.compile(r"[\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    """NFKC, case-folded, with every separator removed: the form both the index and queries use."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", str(text or "")).casefold())


def query_terms(q: str, *, limit: int = 8) -> list[str]:
    """The terms of a query: whitespace-separated words, each normalised; blanks dropped."""
    text = unicodedata.normalize("NFKC", str(q or "")).replace("\x00", "")
    terms: list[str] = []
    for word in text.split():
        term = normalise(word)[:50]
        if term and term not in terms:
            terms.append(term)
    return terms[:limit]


def bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def _spec_words(pack, category_key: str, spec: dict) -> list[str]:
    if pack is None or not pack.has_category(category_key):
        return [str(v) for v in (spec or {}).values()]
    category = pack.category(category_key)
    words: list[str] = [category.name_zh, category.name_en]
    for key, value in (spec or {}).items():
        attr = category.get_attribute(key)
        if attr is None:
            continue
        if attr.type == "enum":
            choice = attr.choice(str(value))
            words += [str(value)] + ([choice.name_zh, choice.name_en] if choice else [])
        elif attr.type == "boolean":
            if value is True:
                words += [attr.name_zh, attr.name_en]
        elif attr.type in ("decimal", "integer"):
            words.append(f"{value}{attr.unit or ''}")
        else:
            words.append(str(value))
    return words


def searchable_text(listing, pack) -> tuple[str, str]:
    """(normalised text, normalised title) of a listing."""
    title = normalise(listing.title)
    parts = [
        listing.title,
        *_spec_words(pack, listing.category, listing.spec),
        listing.supplier.name,
        listing.origin.full_name,
        listing.description,
    ]
    return normalise(" ".join(str(p) for p in parts if p))[:MAX_TEXT], title[:400]


def _pack(pack_key: str):
    from chanlian.core.errors import ServiceError
    from chanlian.industry.packs import get_pack

    try:
        return get_pack(pack_key)
    except (ServiceError, ValueError):
        return None


def refresh_listing(listing, *, models=None) -> None:
    """Build, update or drop ``listing``'s index rows according to its status and content."""
    if models is None:
        from .models import ListingGram, ListingSearch
    else:
        ListingSearch, ListingGram = models
    if listing.status != PUBLISHED:
        ListingGram.objects.filter(listing_id=listing.pk).delete()
        ListingSearch.objects.filter(listing_id=listing.pk).delete()
        return
    text, title = searchable_text(listing, _pack(listing.cluster.pack_key))
    first = listing.tiers.order_by("min_quantity").first()
    price = first.unit_price if first is not None else 0
    with transaction.atomic():
        entry = ListingSearch.objects.filter(listing_id=listing.pk).first()
        if entry is not None and entry.text == text and entry.title == title and entry.price == price:
            return
        ListingSearch.objects.update_or_create(
            listing_id=listing.pk, defaults={"text": text, "title": title, "price": price}
        )
        if entry is None or entry.text != text:
            ListingGram.objects.filter(listing_id=listing.pk).delete()
            ListingGram.objects.bulk_create(
                [ListingGram(listing_id=listing.pk, gram=g) for g in sorted(bigrams(text))],
                batch_size=500,
            )


def rebuild_index(listings: Iterable | None = None, *, models=None, listing_model=None) -> int:
    """Refresh the rows of ``listings`` (default: every listing); return how many are published."""
    if listing_model is None:
        from chanlian.trade.models import Listing as listing_model
    rows = listings
    if rows is None:
        rows = listing_model.objects.select_related("cluster", "supplier", "origin").order_by("pk")
        if models is None:
            from .models import ListingGram, ListingSearch
        else:
            ListingSearch, ListingGram = models
        # Rows of listings that are no longer published are dropped in one statement each.
        ListingGram.objects.exclude(listing__status=PUBLISHED).delete()
        ListingSearch.objects.exclude(listing__status=PUBLISHED).delete()
        rows = rows.filter(status=PUBLISHED).iterator(chunk_size=500)
    count = 0
    for listing in rows:
        refresh_listing(listing, models=models)
        count += listing.status == PUBLISHED
    return count
