"""Permission policies of the matching models, registered with the core chokepoint.

``ListingFacts`` rows exist only for published listings (``index.py``), and a published listing is
visible to every signed-in user (``trade.policies.listing_policy``): so is its row. Anonymous users get
nothing (``restrict`` answers ``none()`` for them before any policy runs)."""

from chanlian.core.permissions import policy

from .models import ListingFacts


@policy(ListingFacts)
def listing_facts_policy(qs, user, action):
    if action == "view":
        return qs
    return qs.none()
