"""Reads of regions. Regions are public reference data: every signed-in user may view every region."""

from __future__ import annotations

import re

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from chanlian.core.errors import InvalidInput
from chanlian.core.permissions import policy

from .choices import RegionLevel
from .loader import CODE_RE
from .models import Region


@policy(Region)
def _region_policy(qs: QuerySet, user, action: str) -> QuerySet:
    # Nobody edits regions through the product; they come from the shipped data (``load_regions``).
    return qs if action == "view" else qs.none()


# Regions found by ``get_region``, by code. Regions are shipped reference data that only the loader
# writes (``loader.apply_rows`` empties this), and a request placing an order or saving an enterprise
# reads one: kept per process, hits only (a code not yet loaded is looked up again next time). The
# instances are shared between threads and must be treated as read-only.
_FOUND: dict[str, Region] = {}


def forget_regions() -> None:
    _FOUND.clear()


def get_region(code: str) -> Region:
    """The region with this six-digit code; ``InvalidInput(code="unknown_region")`` if malformed or unknown.

    For codes that users type or send: the error is a 400 on the field, not a 404 of the resource.
    """
    text = str(code).strip() if isinstance(code, str | int) and not isinstance(code, bool) else ""
    if CODE_RE.fullmatch(text):
        region = _FOUND.get(text)
        if region is not None:
            return region
        region = Region.objects.filter(code=text).first()
        if region is not None:
            _FOUND[text] = region
            return region
    raise InvalidInput(
        _("Unknown region code: %(code)s.") % {"code": str(code)[:20]},
        code="unknown_region",
        fields={"region": str(code)[:20]},
    )


def search_regions(q: str = "", *, level: str | None = None, parent: str | None = None) -> QuerySet[Region]:
    """Regions whose name or full name contains ``q``, optionally of one level and/or under one parent."""
    qs = Region.objects.all()
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(full_name__icontains=q))
    if level:
        qs = qs.filter(level=level)
    if parent:
        qs = qs.filter(parent_id=parent)
    return qs


def county_choices(q: str = "", limit: int | None = 20) -> list[tuple[str, str]]:
    """``(code, full_name)`` pairs of county-level regions matching ``q``, by code; ``limit=None`` for all.

    Made for form choices and autocomplete, e.g. ``county_choices("安溪")`` →
    ``[("350524", "福建省泉州市安溪县")]``.
    """
    qs = search_regions(q, level=RegionLevel.COUNTY).values_list("code", "full_name")
    return list(qs if limit is None else qs[:limit])


CODE_IN_TEXT = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def read_region_code(text) -> str:
    """What a person typed as a region → a 6-digit code where one can be read from it.

    "350524", "350524 福建省泉州市安溪县" (a datalist pick), an unambiguous name ("安溪县") or full name give
    the code; anything else comes back as typed (at most 64 characters), for the selector or service to
    refuse with its own error. Used by every form with a region field (web, trade).
    """
    text = str(text or "").strip()
    if not text:
        return ""
    found = CODE_IN_TEXT.search(text)
    if found:
        return found.group(1)
    if len(text) > 64:
        return text[:64]
    exact = list(search_regions().filter(name=text).values_list("code", flat=True)[:2])
    exact = exact or list(search_regions().filter(full_name=text).values_list("code", flat=True)[:2])
    if len(exact) == 1:
        return exact[0]
    counties = county_choices(text, limit=2)
    if len(counties) == 1:
        return counties[0][0]
    return text
