"""Every write of trading: verb-named, one transaction each, permission-checked, locked and audited.

Rules enforced here (docs/trading.md has them as tables):
* listings are created by admins/staff of a supplier that is a **verified** member of the cluster; their
  terms change only in ``draft`` or ``paused``; the operator takes a published/paused listing down;
* a demand's buyer is any company (not a government body or lender); ``invited`` demands name verified
  members of the cluster;
* a quote comes from a verified member, not the buyer, on an open demand before its deadline; buyer and
  supplier then take turns: the buyer counters a supplier's revision, the supplier answers a counter (and
  may sharpen its own offer unasked while the RFQ still takes quotes); the buyer awards only a supplier's
  revision that is still valid; awarded quantities never add up to more than the demand's quantity.

Locks: a listing's row for its moves and edits; a demand's row, then its quotes' rows, for anything that
reads the state of the negotiation — always in that order, so two writers never deadlock.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from chanlian.core import audit
from chanlian.core.db import Columns
from chanlian.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from chanlian.core.money import CNY, to_fen
from chanlian.core.params import MAX_ID
from chanlian.core.permissions import restrict
from chanlian.industry.spec import validate_spec
from chanlian.regions.selectors import get_region
from chanlian.registry.choices import ClusterStatus, EnterpriseKind, MembershipStatus
from chanlian.registry.models import Cluster, Enterprise, Membership
from chanlian.registry.principal import principal_for

from .. import values
from ..choices import (
    BUYER,
    DEMAND_ACTIVE,
    DEMAND_TRANSITIONS,
    LISTING_EDITABLE,
    LISTING_TRANSITIONS,
    OPERATOR,
    QUOTE_TRANSITIONS,
    SUPPLIER,
    DemandStatus,
    DemandVisibility,
    ListingStatus,
    PaymentTerms,
    QuoteStatus,
    Side,
)
from ..images import NotAnImage, sniff_image
from ..models import (
    AwardedTerms,
    Demand,
    DemandEvent,
    DemandInvitation,
    Listing,
    ListingEvent,
    ListingPhoto,
    PriceTier,
    Quote,
    QuoteEvent,
    QuoteRevision,
    RfqMessage,
)

__all__ = [
    "MAX_LEAD_TIME_DAYS",
    "MAX_PHOTOS",
    "MAX_PHOTO_BYTES",
    "MESSAGE_MAX_LENGTH",
    "add_listing_photo",
    "award_quote",
    "cancel_demand",
    "close_demand",
    "close_listing",
    "counter_quote",
    "create_listing",
    "decline_quote",
    "pause_listing",
    "post_demand",
    "post_message",
    "publish_listing",
    "remove_listing_photo",
    "revise_quote",
    "submit_quote",
    "take_down_listing",
    "update_listing",
    "withdraw_quote",
]

MAX_TIERS = 10
MAX_PHOTOS = 8
MAX_PHOTO_BYTES = 5 * 1024 * 1024
MAX_INVITEES = 50
MAX_LEAD_TIME_DAYS = 3650
MAX_DEADLINE_DAYS = 366
MESSAGE_MAX_LENGTH = 2000

# ---------------------------------------------------------------- plumbing


def _pk(value) -> int:
    """A row id from a caller; anything that cannot be one is simply not found."""
    text = str(value).strip() if value is not None and not isinstance(value, bool) else ""
    if not text.isdigit() or not 0 < int(text) <= MAX_ID:
        raise NotFound()
    return int(text)


def _locked(model, actor, action: str, pk):
    """The row ``pk``, locked, if ``actor`` may ``action`` it. A row the actor may see but not act on is
    403; a row it may not see is 404, exactly like a missing one."""
    pk = _pk(pk)
    row = restrict(model.objects.select_for_update(), actor, action).filter(pk=pk).first()
    if row is None:
        if restrict(model, actor, "view").filter(pk=pk).exists():
            raise Forbidden()
        raise NotFound()
    return row


def _visible(model, actor, pk):
    row = restrict(model, actor, "view").filter(pk=_pk(pk)).first()
    if row is None:
        raise NotFound()
    return row


def _cluster(value) -> Cluster:
    text = str(value).strip() if value is not None and not isinstance(value, bool) else ""
    cluster = None
    if text.isdigit() and 0 < int(text) <= MAX_ID:
        cluster = Cluster.objects.filter(pk=int(text)).first()
    if cluster is None:
        raise InvalidInput(_("Unknown cluster."), code="unknown_cluster", fields={"cluster": "unknown"})
    if cluster.status != ClusterStatus.ACTIVE:
        raise Conflict(_("This cluster is not open for trading."), code="cluster_not_active")
    return cluster


def _acting_enterprise(actor, value, field: str) -> Enterprise:
    """The enterprise the actor acts for: the one named (it must be one the actor is admin/staff of), or
    the only one the actor acts for."""
    p = principal_for(actor)
    if not getattr(actor, "is_authenticated", False):
        raise Forbidden()
    if value in (None, ""):
        acting = sorted(eid for eid in p.enterprise_ids if p.staff_of(eid))
        if not acting:
            raise Forbidden(
                _("You do not act for any enterprise: ask its administrator for staff rights."),
                code="no_enterprise",
            )
        if len(acting) > 1:
            raise InvalidInput(
                _("You act for several enterprises: say which one."),
                code="enterprise_required",
                fields={field: "required"},
            )
        return Columns.of(Enterprise).by_pk(acting[0])  # one plain SELECT: no queryset to build
    text = str(value).strip()
    enterprise = None
    if text.isdigit() and 0 < int(text) <= MAX_ID and p.staff_of(int(text)):
        enterprise = Enterprise.objects.filter(pk=int(text)).first()
    if enterprise is None:
        raise Forbidden(_("You do not act for this enterprise."), code="not_your_enterprise")
    return enterprise


def _is_verified_member(cluster_id: int, enterprise_id: int) -> bool:
    return Membership.objects.filter(
        cluster_id=cluster_id, enterprise_id=enterprise_id, status=MembershipStatus.VERIFIED
    ).exists()


def _require_verified_member(cluster: Cluster | int, enterprise: Enterprise) -> None:
    cluster_id = cluster if isinstance(cluster, int) else cluster.pk
    if not _is_verified_member(cluster_id, enterprise.pk):
        raise Forbidden(
            _("%(name)s is not a verified member of this cluster.") % {"name": enterprise.name},
            code="not_a_verified_member",
        )


def _require_company(enterprise: Enterprise, doing: str) -> None:
    """Banks and government bodies finance and oversee trade; they neither sell nor buy goods here."""
    if enterprise.kind != EnterpriseKind.COMPANY:
        messages = {
            "sell": _("Government bodies and financial institutions do not sell on the market."),
            "buy": _("Government bodies and financial institutions do not post demands."),
        }
        raise Forbidden(messages[doing], code="kind_not_allowed")


def _unit(category, value) -> str:
    unit = category.unit if value in (None, "") else str(value).strip()
    if not category.allows_unit(unit):
        raise InvalidInput(
            _("%(unit)s is not a unit of trade for this category; use one of: %(units)s.")
            % {"unit": unit[:32], "units": ", ".join(category.units)},
            code="unit_not_allowed",
            fields={"unit": unit[:32]},
        )
    return unit


def _county(value, field: str):
    region = get_region(value)
    if region.level != "county":
        raise InvalidInput(
            _("%(name)s is not a county-level region.") % {"name": region.full_name},
            code="not_a_county",
            fields={field: region.code},
        )
    return region


def _reason(value, *, required: bool = False) -> str:
    return values.text(value, "reason", max_length=500, required=required)


def _illegal(kind: str, frm, to) -> Conflict:
    return Conflict(
        _("A %(kind)s that is %(frm)s cannot become %(to)s.")
        % {"kind": kind, "frm": frm.label, "to": to.label},
        code="illegal_transition",
    )


# ---------------------------------------------------------------- listings


def _tiers(raw, moq) -> list[tuple[Any, Any]]:
    if not isinstance(raw, list | tuple) or not raw:
        raise InvalidInput(
            _("Give at least one price tier."), code="tiers_required", fields={"tiers": "required"}
        )
    if len(raw) > MAX_TIERS:
        raise InvalidInput(
            _("At most %(n)d price tiers.") % {"n": MAX_TIERS},
            code="too_many_tiers",
            fields={"tiers": "many"},
        )
    tiers = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InvalidInput(
                _("Each price tier needs min_quantity and unit_price."),
                code="invalid_tier",
                fields={f"tiers[{i}]": "invalid"},
            )
        tiers.append(
            (
                values.quantity(item.get("min_quantity"), f"tiers[{i}].min_quantity"),
                values.price(item.get("unit_price"), f"tiers[{i}].unit_price"),
            )
        )
    for i in range(1, len(tiers)):
        if tiers[i][0] <= tiers[i - 1][0]:
            raise InvalidInput(
                _("Price tiers must have strictly ascending minimum quantities."),
                code="tiers_not_ascending",
                fields={f"tiers[{i}].min_quantity": str(tiers[i][0])},
            )
    if tiers[0][0] > moq:
        raise InvalidInput(
            _("The first price tier must start at or below the minimum order quantity (%(moq)s).")
            % {"moq": moq},
            code="first_tier_above_moq",
            fields={"tiers[0].min_quantity": str(tiers[0][0])},
        )
    return tiers


def _lead_time(value) -> int:
    text = str(value).strip() if value is not None and not isinstance(value, bool) else ""
    if not text.isdigit() or int(text) > MAX_LEAD_TIME_DAYS:
        raise InvalidInput(
            _("Lead time must be a whole number of days from 0 to %(n)d.") % {"n": MAX_LEAD_TIME_DAYS},
            code="invalid_lead_time",
            fields={"lead_time_days": text[:20]},
        )
    return int(text)


def _listing_snapshot(listing: Listing, tiers=None) -> dict:
    if tiers is None:
        tiers = [(t.min_quantity, t.unit_price) for t in listing.tiers.all()]
    return {
        "status": listing.status,
        "category": listing.category,
        "spec": listing.spec,
        "title": listing.title,
        "unit": listing.unit,
        "moq": listing.moq,
        "available_quantity": listing.available_quantity,
        "lead_time_days": listing.lead_time_days,
        "origin": listing.origin_id,
        "tiers": [[q, p] for q, p in tiers],
    }


LISTING_FIELDS = (
    "category",
    "spec",
    "title",
    "description",
    "unit",
    "tiers",
    "moq",
    "available_quantity",
    "lead_time_days",
    "origin",
)


def _clean_listing(cluster: Cluster, data: dict, current: Listing | None = None) -> tuple[dict, list | None]:
    """Clean a whole listing (``current`` + ``data``): every rule that ties fields together is checked
    against the result, so an edit of one field cannot break another."""
    pack = cluster.pack

    def pick(field, default=None):
        if field in data:
            return data[field]
        return getattr(current, field) if current is not None else default

    category_key = pick("category")
    category = pack.category(str(category_key or "")[:64])
    cleaned: dict = {"category": category.key}
    if current is None or {"category", "spec"} & set(data):
        cleaned["spec"] = validate_spec(pack, category.key, values.plain_json(pick("spec", {})), mode="exact")
    if current is None or {"category", "unit"} & set(data):
        cleaned["unit"] = _unit(category, pick("unit"))
    if current is None or "title" in data:
        cleaned["title"] = values.text(pick("title"), "title", max_length=200, required=True)
    if current is None or "description" in data:
        cleaned["description"] = values.text(pick("description", ""), "description", max_length=5000)
    if current is None or "moq" in data:
        cleaned["moq"] = values.quantity(pick("moq"), "moq")
    if current is None or "available_quantity" in data:
        cleaned["available_quantity"] = values.quantity(
            pick("available_quantity"), "available_quantity", allow_zero=True
        )
    if current is None or "lead_time_days" in data:
        cleaned["lead_time_days"] = _lead_time(pick("lead_time_days", 0))
    if "origin" in data and data["origin"] not in (None, ""):
        cleaned["origin"] = _county(data["origin"], "origin")
    tiers = None
    moq = cleaned.get("moq", current.moq if current is not None else None)
    if current is None or "tiers" in data:
        tiers = _tiers(pick("tiers"), moq)
    elif "moq" in data:
        first = current.tiers.order_by("min_quantity").first()
        if first is not None and first.min_quantity > moq:
            raise InvalidInput(
                _("The first price tier must start at or below the minimum order quantity (%(moq)s).")
                % {"moq": moq},
                code="first_tier_above_moq",
                fields={"moq": str(moq)},
            )
    return cleaned, tiers


@transaction.atomic
def create_listing(actor, *, cluster, supplier=None, **data) -> Listing:
    """An admin or staff user of a verified member of ``cluster`` drafts a listing.

    ``data``: ``category`` (a category of the cluster's pack), ``spec`` (exact values, validated by the
    pack), ``title``, ``description``, ``unit`` (allowed by the category; default its unit), ``tiers``
    (``[{min_quantity, unit_price}]``, ascending, the first at or below the MOQ), ``moq``,
    ``available_quantity``, ``lead_time_days``, ``origin`` (a county code; default the supplier's
    region). The listing starts as a draft.
    """
    enterprise = _acting_enterprise(actor, supplier, "supplier")
    _require_company(enterprise, "sell")
    target = _cluster(cluster)
    _require_verified_member(target, enterprise)
    cleaned, tiers = _clean_listing(target, {k: v for k, v in data.items() if k in LISTING_FIELDS})
    if "origin" not in cleaned:
        region = enterprise.region
        if region.level != "county":
            raise InvalidInput(
                _("Give the county of origin."), code="required", fields={"origin": "required"}
            )
        cleaned["origin"] = region
    listing = Listing.objects.create(
        cluster=target, supplier=enterprise, currency=CNY, created_by=actor, **cleaned
    )
    PriceTier.objects.bulk_create(
        [PriceTier(listing=listing, min_quantity=q, unit_price=p) for q, p in tiers]
    )
    audit.record(
        actor,
        "listing.create",
        listing,
        cluster_id=target.pk,
        enterprise_id=enterprise.pk,
        after=_listing_snapshot(listing, tiers),
    )
    return listing


@transaction.atomic
def update_listing(actor, listing_id, **data) -> Listing:
    """The supplier edits a listing's terms — only while it is a draft or paused (``not_editable``)."""
    listing = _locked(Listing, actor, "supply", listing_id)
    if listing.status not in LISTING_EDITABLE:
        raise Conflict(_("A listing can be edited only while it is a draft or paused."), code="not_editable")
    data = {k: v for k, v in data.items() if k in LISTING_FIELDS}
    before = _listing_snapshot(listing)
    cleaned, tiers = _clean_listing(listing.cluster, data, current=listing)
    for key, value in cleaned.items():
        setattr(listing, key, value)
    listing.save()
    if tiers is not None:
        PriceTier.objects.filter(listing=listing).delete()
        PriceTier.objects.bulk_create(
            [PriceTier(listing=listing, min_quantity=q, unit_price=p) for q, p in tiers]
        )
    audit.record(
        actor,
        "listing.update",
        listing,
        cluster_id=listing.cluster_id,
        enterprise_id=listing.supplier_id,
        before=before,
        after=_listing_snapshot(listing),
    )
    return listing


def _move_listing(actor, listing: Listing, to: str, who: str, *, reason: str = "") -> Listing:
    allowed = LISTING_TRANSITIONS.get(listing.status, {})
    if allowed.get(to) != who:
        raise _illegal(_("listing"), ListingStatus(listing.status), ListingStatus(to))
    frm = listing.status
    listing.status = to
    listing.status_reason = reason
    if to == ListingStatus.PUBLISHED and listing.published_at is None:
        listing.published_at = timezone.now()
    listing.save(update_fields=["status", "status_reason", "published_at", "updated_at"])
    ListingEvent.objects.create(listing=listing, from_status=frm, to_status=to, actor=actor, reason=reason)
    audit.record(
        actor,
        f"listing.{to}",
        listing,
        cluster_id=listing.cluster_id,
        enterprise_id=listing.supplier_id,
        before={"status": frm},
        after={"status": to, "reason": reason},
    )
    return listing


@transaction.atomic
def publish_listing(actor, listing_id) -> Listing:
    """draft/paused → published, by the supplier, which must still be a verified member."""
    listing = _locked(Listing, actor, "supply", listing_id)
    if LISTING_TRANSITIONS.get(listing.status, {}).get(ListingStatus.PUBLISHED) == SUPPLIER:
        _require_verified_member(listing.cluster_id, listing.supplier)
    return _move_listing(actor, listing, ListingStatus.PUBLISHED, SUPPLIER)


@transaction.atomic
def pause_listing(actor, listing_id) -> Listing:
    """published → paused, by the supplier (buyers no longer see it; its terms may be edited)."""
    listing = _locked(Listing, actor, "supply", listing_id)
    return _move_listing(actor, listing, ListingStatus.PAUSED, SUPPLIER)


@transaction.atomic
def close_listing(actor, listing_id, *, reason: str = "") -> Listing:
    """draft/published/paused → closed, by the supplier, for good."""
    reason = _reason(reason)
    listing = _locked(Listing, actor, "supply", listing_id)
    return _move_listing(actor, listing, ListingStatus.CLOSED, SUPPLIER, reason=reason)


@transaction.atomic
def take_down_listing(actor, listing_id, *, reason: str) -> Listing:
    """published/paused → taken_down, by the cluster's operator, who must say why."""
    reason = _reason(reason, required=True)
    listing = _locked(Listing, actor, "moderate", listing_id)
    return _move_listing(actor, listing, ListingStatus.TAKEN_DOWN, OPERATOR, reason=reason)


def _read_upload(upload) -> bytes:
    too_large = InvalidInput(
        _("A photo may be at most %(n)d MiB.") % {"n": MAX_PHOTO_BYTES // (1024 * 1024)},
        code="file_too_large",
        fields={"file": "too large"},
    )
    if isinstance(upload, bytes | bytearray):
        data = bytes(upload)
    else:
        size = getattr(upload, "size", None)
        if isinstance(size, int) and size > MAX_PHOTO_BYTES:
            raise too_large
        if hasattr(upload, "seek"):
            upload.seek(0)
        data = upload.read(MAX_PHOTO_BYTES + 1)
    if len(data) > MAX_PHOTO_BYTES:
        raise too_large
    return data


@transaction.atomic
def add_listing_photo(actor, listing_id, upload) -> ListingPhoto:
    """The supplier adds a JPEG, PNG or WebP photo (checked by its bytes, ``not_an_image``) of at most
    5 MiB (``file_too_large``), up to 8 per listing (``too_many_photos``), while the listing is editable.
    The file is stored under ``MEDIA_ROOT/listings/`` with a generated name."""
    listing = _locked(Listing, actor, "supply", listing_id)
    if listing.status not in LISTING_EDITABLE:
        raise Conflict(_("A listing can be edited only while it is a draft or paused."), code="not_editable")
    data = _read_upload(upload)
    try:
        info = sniff_image(data)
    except NotAnImage:
        raise InvalidInput(
            _("The file is not a JPEG, PNG or WebP image."), code="not_an_image", fields={"file": "invalid"}
        ) from None
    if ListingPhoto.objects.filter(listing=listing).count() >= MAX_PHOTOS:
        raise Conflict(
            _("A listing may have at most %(n)d photos.") % {"n": MAX_PHOTOS}, code="too_many_photos"
        )
    stored = default_storage.save(
        f"listings/{listing.pk}-{secrets.token_hex(8)}.{info.extension}", ContentFile(data)
    )
    try:
        photo = ListingPhoto.objects.create(
            listing=listing,
            file=stored,
            content_type=info.content_type,
            size=len(data),
            width=info.width,
            height=info.height,
            created_by=actor,
        )
        audit.record(
            actor,
            "listing.photo_add",
            photo,
            cluster_id=listing.cluster_id,
            enterprise_id=listing.supplier_id,
            after={
                "listing": listing.pk,
                "file": stored,
                "content_type": info.content_type,
                "size": len(data),
            },
        )
    except BaseException:
        default_storage.delete(stored)
        raise
    return photo


@transaction.atomic
def remove_listing_photo(actor, listing_id, photo_id) -> None:
    """The supplier removes a photo while the listing is editable; the file goes once the removal commits."""
    listing = _locked(Listing, actor, "supply", listing_id)
    if listing.status not in LISTING_EDITABLE:
        raise Conflict(_("A listing can be edited only while it is a draft or paused."), code="not_editable")
    photo = ListingPhoto.objects.filter(listing=listing, pk=_pk(photo_id)).first()
    if photo is None:
        raise NotFound()
    name = photo.file.name
    audit.record(
        actor,
        "listing.photo_remove",
        photo,
        cluster_id=listing.cluster_id,
        enterprise_id=listing.supplier_id,
        before={"listing": listing.pk, "file": name},
    )
    photo.delete()
    transaction.on_commit(lambda: default_storage.delete(name))


# ---------------------------------------------------------------- demands


def _demand_snapshot(d: Demand, invited=None) -> dict:
    return {
        "status": d.status,
        "category": d.category,
        "spec": d.spec,
        "quantity": d.quantity,
        "unit": d.unit,
        "target_unit_price": d.target_unit_price,
        "delivery_region": d.delivery_region_id,
        "needed_by": d.needed_by,
        "quote_deadline": d.quote_deadline,
        "visibility": d.visibility,
        "invited": sorted(invited) if invited is not None else None,
    }


def _invitees(cluster: Cluster, raw, buyer: Enterprise) -> list[int]:
    if raw is None:
        raw = []
    if not isinstance(raw, list | tuple) or len(raw) > MAX_INVITEES:
        raise InvalidInput(
            _("Invite at most %(n)d suppliers, as a list of enterprise ids.") % {"n": MAX_INVITEES},
            code="invalid_invitee",
            fields={"invited": "invalid"},
        )
    ids = []
    for item in raw:
        text = str(item).strip() if not isinstance(item, bool) else ""
        if not text.isdigit() or not 0 < int(text) <= MAX_ID:
            raise InvalidInput(
                _("Invitees are enterprise ids."), code="invalid_invitee", fields={"invited": text[:20]}
            )
        ids.append(int(text))
    ids = list(dict.fromkeys(ids))
    if not ids:
        raise InvalidInput(
            _("An invited-only demand needs at least one invited supplier."),
            code="invalid_invitee",
            fields={"invited": "required"},
        )
    verified = set(
        Membership.objects.filter(
            cluster=cluster,
            enterprise_id__in=ids,
            status=MembershipStatus.VERIFIED,
            enterprise__kind=EnterpriseKind.COMPANY,
        ).values_list("enterprise_id", flat=True)
    )
    bad = [i for i in ids if i not in verified or i == buyer.pk]
    if bad:
        raise InvalidInput(
            _("Only verified member companies of the cluster, other than the buyer, can be invited: %(ids)s.")
            % {"ids": ", ".join(map(str, bad))},
            code="invalid_invitee",
            fields={"invited": [str(i) for i in bad]},
        )
    return ids


@transaction.atomic
def post_demand(
    actor,
    *,
    cluster,
    category,
    quantity,
    delivery_region,
    needed_by,
    quote_deadline,
    buyer=None,
    title="",
    description="",
    spec=None,
    unit=None,
    target_unit_price=None,
    visibility=DemandVisibility.OPEN,
    invited=None,
) -> Demand:
    """An admin or staff user of any company posts a demand / RFQ in a cluster (the market is national:
    the buyer need not be a member). Government bodies and lenders do not buy (``kind_not_allowed``).

    ``spec`` holds constraints (ranges, lists of allowed values) validated by the pack; the quote
    deadline is in the future (``deadline_in_past``); ``invited`` demands name verified members
    (``invalid_invitee``).
    """
    enterprise = _acting_enterprise(actor, buyer, "buyer")
    _require_company(enterprise, "buy")
    target = _cluster(cluster)
    pack = target.pack
    category_obj = pack.category(str(category or "")[:64])
    cleaned_spec = validate_spec(pack, category_obj.key, values.plain_json(spec), mode="constraint")
    amount = values.quantity(quantity, "quantity")
    unit_key = _unit(category_obj, unit)
    target_price = None
    if target_unit_price not in (None, ""):
        target_price = values.price(target_unit_price, "target_unit_price")
    region = _county(delivery_region, "delivery_region")
    deadline = values.moment(quote_deadline, "quote_deadline")
    now = timezone.now()
    if deadline <= now:
        raise InvalidInput(
            _("The quote deadline must be in the future."),
            code="deadline_in_past",
            fields={"quote_deadline": deadline.isoformat()},
        )
    if deadline > now + timedelta(days=MAX_DEADLINE_DAYS):
        raise InvalidInput(
            _("The quote deadline may be at most a year ahead."),
            code="deadline_too_far",
            fields={"quote_deadline": deadline.isoformat()},
        )
    needed = values.not_before_today(values.date(needed_by, "needed_by"), "needed_by", "needed_by_in_past")
    if needed < timezone.localtime(deadline).date():
        raise InvalidInput(
            _("The needed-by date cannot be before the quote deadline."),
            code="needed_by_before_deadline",
            fields={"needed_by": str(needed)},
        )
    if visibility not in DemandVisibility.values:
        raise InvalidInput(
            _("Visibility is open or invited."), code="invalid_visibility", fields={"visibility": "invalid"}
        )
    invitees: list[int] = []
    if visibility == DemandVisibility.INVITED:
        invitees = _invitees(target, invited, enterprise)
    elif invited:
        raise InvalidInput(
            _("Only an invited-only demand has invitees."),
            code="invalid_invitee",
            fields={"invited": "not invited visibility"},
        )
    demand = Demand.objects.create(
        cluster=target,
        buyer=enterprise,
        title=values.text(title, "title", max_length=200) or category_obj.name_zh,
        description=values.text(description, "description", max_length=5000),
        category=category_obj.key,
        spec=cleaned_spec,
        quantity=amount,
        unit=unit_key,
        target_unit_price=target_price,
        currency=CNY,
        delivery_region=region,
        needed_by=needed,
        quote_deadline=deadline,
        visibility=visibility,
        created_by=actor,
    )
    DemandInvitation.objects.bulk_create([DemandInvitation(demand=demand, supplier_id=i) for i in invitees])
    audit.record(
        actor,
        "demand.post",
        demand,
        cluster_id=target.pk,
        enterprise_id=enterprise.pk,
        after=_demand_snapshot(demand, invitees),
    )
    return demand


def _move_demand(actor, demand: Demand, to: str, *, reason: str = "") -> Demand:
    if DEMAND_TRANSITIONS.get(demand.status, {}).get(to) != BUYER:
        raise _illegal(_("demand"), DemandStatus(demand.status), DemandStatus(to))
    frm = demand.status
    demand.status = to
    demand.status_reason = reason
    demand.save(update_fields=["status", "status_reason", "updated_at"])
    DemandEvent.objects.create(demand=demand, from_status=frm, to_status=to, actor=actor, reason=reason)
    audit.record(
        actor,
        f"demand.{to}",
        demand,
        cluster_id=demand.cluster_id,
        enterprise_id=demand.buyer_id,
        before={"status": frm},
        after={"status": to, "reason": reason},
    )
    return demand


def _decline_open_quotes(actor, demand: Demand, reason: str) -> None:
    for quote in (
        Quote.objects.select_for_update().filter(demand=demand, status=QuoteStatus.OPEN).order_by("id")
    ):
        _move_quote(actor, quote, QuoteStatus.DECLINED, BUYER, reason=reason)


@transaction.atomic
def close_demand(actor, demand_id, *, reason: str = "") -> Demand:
    """open → closed, by the buyer: no new quotes; the quotes in hand may still be negotiated and awarded."""
    reason = _reason(reason)
    demand = _locked(Demand, actor, "buy", demand_id)
    return _move_demand(actor, demand, DemandStatus.CLOSED, reason=reason)


@transaction.atomic
def cancel_demand(actor, demand_id, *, reason: str = "") -> Demand:
    """open/closed → cancelled, by the buyer, while nothing is awarded; open quotes are declined."""
    reason = _reason(reason)
    demand = _locked(Demand, actor, "buy", demand_id)
    if DEMAND_TRANSITIONS.get(demand.status, {}).get(DemandStatus.CANCELLED) == BUYER and (
        AwardedTerms.objects.filter(demand=demand).exists()
    ):
        raise Conflict(
            _("A demand with awarded quotes cannot be cancelled; close it instead."),
            code="demand_has_awards",
        )
    _move_demand(actor, demand, DemandStatus.CANCELLED, reason=reason)
    _decline_open_quotes(actor, demand, _("The demand was cancelled."))
    return demand


# ---------------------------------------------------------------- quotes


def _quote_snapshot(quote: Quote) -> dict:
    return {"status": quote.status, "revision": quote.revision_count}


def _revision_snapshot(r: QuoteRevision) -> dict:
    return {
        "number": r.number,
        "side": r.side,
        "unit_price": r.unit_price,
        "quantity": r.quantity,
        "delivery_date": r.delivery_date,
        "valid_until": r.valid_until,
        "payment_terms": r.payment_terms,
    }


def _terms(demand: Demand, data: dict, previous: QuoteRevision | None) -> dict:
    """A complete set of terms: the values given, the rest carried over from ``previous``."""
    required = ("unit_price", "quantity", "delivery_date", "valid_until", "payment_terms")
    if previous is None:
        missing = [f for f in required if data.get(f) in (None, "")]
        if missing:
            raise InvalidInput(
                _("Missing: %(f)s.") % {"f": ", ".join(missing)},
                code="required",
                fields={f: "required" for f in missing},
            )
    given = {k: v for k, v in data.items() if v not in (None, "")}
    terms: dict = {}
    terms["unit_price"] = (
        values.price(given["unit_price"], "unit_price") if "unit_price" in given else previous.unit_price
    )
    if "quantity" in given:
        terms["quantity"] = values.quantity(given["quantity"], "quantity")
        if terms["quantity"] > demand.quantity:
            raise InvalidInput(
                _("The quantity is more than the demand asks for (%(q)s %(unit)s).")
                % {"q": demand.quantity, "unit": demand.unit},
                code="quantity_exceeds_demand",
                fields={"quantity": str(terms["quantity"])},
            )
    else:
        terms["quantity"] = previous.quantity
    if "delivery_date" in given:
        terms["delivery_date"] = values.not_before_today(
            values.date(given["delivery_date"], "delivery_date"), "delivery_date", "delivery_in_past"
        )
    else:
        terms["delivery_date"] = previous.delivery_date
    if "valid_until" in given:
        terms["valid_until"] = values.not_before_today(
            values.date(given["valid_until"], "valid_until"), "valid_until", "valid_until_in_past"
        )
    else:
        terms["valid_until"] = previous.valid_until
    if "payment_terms" in given:
        if given["payment_terms"] not in PaymentTerms.values:
            raise InvalidInput(
                _("Payment terms are escrow, terms_30, terms_60 or terms_90."),
                code="invalid_payment_terms",
                fields={"payment_terms": str(given["payment_terms"])[:20]},
            )
        terms["payment_terms"] = given["payment_terms"]
    else:
        terms["payment_terms"] = previous.payment_terms
    values.check_amount(to_fen(terms["unit_price"] * terms["quantity"]), "total")
    terms["note"] = values.text(data.get("note"), "note", max_length=2000)
    return terms


def _add_revision(actor, quote: Quote, side: str, terms: dict) -> QuoteRevision:
    revision = QuoteRevision.objects.create(
        quote=quote, number=quote.revision_count + 1, side=side, author=actor, **terms
    )
    quote.current_revision = revision
    quote.revision_count = revision.number
    quote.save(update_fields=["current_revision", "revision_count", "updated_at"])
    return revision


def _accepting_quotes(demand: Demand) -> None:
    if demand.status != DemandStatus.OPEN:
        raise Conflict(_("This RFQ no longer accepts quotes."), code="rfq_closed")
    if demand.quote_deadline <= timezone.now():
        raise Conflict(_("The quote deadline of this RFQ has passed."), code="rfq_expired")


def _demand_active(demand: Demand) -> None:
    if demand.status not in DEMAND_ACTIVE:
        raise Conflict(
            _("This demand is %(status)s: its quotes can no longer change.")
            % {"status": DemandStatus(demand.status).label},
            code="demand_not_active",
        )


def _quote_open(quote: Quote) -> None:
    if quote.status != QuoteStatus.OPEN:
        raise Conflict(
            _("This quote is %(status)s.") % {"status": QuoteStatus(quote.status).label},
            code="quote_not_open",
        )


@transaction.atomic
def submit_quote(actor, demand_id, *, supplier=None, note="", **terms) -> Quote:
    """An admin or staff user of a verified member of the demand's cluster quotes on an open RFQ before its
    deadline: ``unit_price``, ``quantity`` (at most the demand's), ``delivery_date``, ``valid_until``,
    ``payment_terms``. One quote per supplier and demand (``already_quoted``); the buyer cannot quote on
    its own demand; an invited-only RFQ takes quotes from its invitees only. Revision 1 is the supplier's.
    """
    demand = restrict(Demand.objects.select_for_update(), actor, "view").filter(pk=_pk(demand_id)).first()
    if demand is None:
        raise NotFound()
    enterprise = _acting_enterprise(actor, supplier, "supplier")
    if enterprise.pk == demand.buyer_id:
        raise Forbidden(_("You cannot quote on your own demand."), code="cannot_quote_own_demand")
    _require_company(enterprise, "sell")
    _require_verified_member(demand.cluster_id, enterprise)
    if (
        demand.visibility == DemandVisibility.INVITED
        and not DemandInvitation.objects.filter(demand=demand, supplier=enterprise).exists()
    ):
        raise Forbidden(_("This RFQ is open to invited suppliers only."), code="not_invited")
    _accepting_quotes(demand)
    cleaned = _terms(demand, {**terms, "note": note}, None)
    if Quote.objects.filter(demand=demand, supplier=enterprise).exists():
        raise Conflict(_("You have already quoted on this RFQ; revise that quote."), code="already_quoted")
    try:
        with transaction.atomic():
            quote = Quote.objects.create(
                cluster_id=demand.cluster_id, demand=demand, supplier=enterprise, buyer_id=demand.buyer_id
            )
    except IntegrityError:
        raise Conflict(
            _("You have already quoted on this RFQ; revise that quote."), code="already_quoted"
        ) from None
    revision = _add_revision(actor, quote, Side.SUPPLIER, cleaned)
    audit.record(
        actor,
        "quote.submit",
        quote,
        cluster_id=demand.cluster_id,
        enterprise_id=enterprise.pk,
        demand=demand.pk,
        after=_revision_snapshot(revision),
    )
    return quote


def _negotiation(actor, quote_id, action: str) -> tuple[Demand, Quote]:
    """Lock the demand, then the quote (the order every negotiation write keeps)."""
    visible = _visible(Quote, actor, quote_id)
    demand = Demand.objects.select_for_update().get(pk=visible.demand_id)
    quote = _locked(Quote, actor, action, visible.pk)
    quote = Quote.objects.select_related("current_revision", "demand").get(pk=quote.pk)
    return demand, quote


def _same_terms(terms: dict, revision: QuoteRevision) -> bool:
    keys = ("unit_price", "quantity", "delivery_date", "valid_until", "payment_terms")
    return all(terms[k] == getattr(revision, k) for k in keys)


@transaction.atomic
def counter_quote(actor, quote_id, **data) -> Quote:
    """The buyer answers the supplier's latest revision with other terms (a revision by the buyer). The
    buyer does not counter itself: after a counter it waits for the supplier (``awaiting_supplier``)."""
    demand, quote = _negotiation(actor, quote_id, "buy")
    _demand_active(demand)
    _quote_open(quote)
    if quote.current_revision.side != Side.SUPPLIER:
        raise Conflict(_("Waiting for the supplier to answer your counter-offer."), code="awaiting_supplier")
    terms = _terms(demand, data, quote.current_revision)
    if _same_terms(terms, quote.current_revision):
        raise InvalidInput(
            _("A counter-offer must change at least one term; to accept, award the quote."), code="no_change"
        )
    revision = _add_revision(actor, quote, Side.BUYER, terms)
    audit.record(
        actor,
        "quote.counter",
        quote,
        cluster_id=quote.cluster_id,
        enterprise_id=quote.buyer_id,
        demand=demand.pk,
        after=_revision_snapshot(revision),
    )
    return quote


@transaction.atomic
def revise_quote(actor, quote_id, **data) -> Quote:
    """The supplier revises its terms: in answer to the buyer's counter, or — while the RFQ still takes
    quotes — to sharpen its own latest offer (``awaiting_buyer`` otherwise)."""
    demand, quote = _negotiation(actor, quote_id, "supply")
    _demand_active(demand)
    _quote_open(quote)
    if quote.current_revision.side == Side.SUPPLIER:
        accepting = demand.status == DemandStatus.OPEN and demand.quote_deadline > timezone.now()
        if not accepting:
            raise Conflict(_("Waiting for the buyer to answer your quote."), code="awaiting_buyer")
    terms = _terms(demand, data, quote.current_revision)
    if terms["valid_until"] < timezone.localdate():
        raise InvalidInput(
            _("%(field)s is in the past.") % {"field": values.label("valid_until")},
            code="valid_until_in_past",
            fields={"valid_until": str(terms["valid_until"])},
        )
    # Repeating the buyer's counter is how the supplier accepts it; repeating its own offer changes nothing.
    if quote.current_revision.side == Side.SUPPLIER and _same_terms(terms, quote.current_revision):
        raise InvalidInput(_("A revision must change at least one term."), code="no_change")
    revision = _add_revision(actor, quote, Side.SUPPLIER, terms)
    audit.record(
        actor,
        "quote.revise",
        quote,
        cluster_id=quote.cluster_id,
        enterprise_id=quote.supplier_id,
        demand=demand.pk,
        after=_revision_snapshot(revision),
    )
    return quote


def _move_quote(actor, quote: Quote, to: str, who: str, *, reason: str = "") -> Quote:
    if QUOTE_TRANSITIONS.get(quote.status, {}).get(to) != who:
        raise _illegal(_("quote"), QuoteStatus(quote.status), QuoteStatus(to))
    frm = quote.status
    quote.status = to
    quote.status_reason = str(reason)
    quote.save(update_fields=["status", "status_reason", "updated_at"])
    QuoteEvent.objects.create(quote=quote, from_status=frm, to_status=to, actor=actor, reason=str(reason))
    audit.record(
        actor,
        f"quote.{to}",
        quote,
        cluster_id=quote.cluster_id,
        enterprise_id=quote.supplier_id if who == SUPPLIER else quote.buyer_id,
        demand=quote.demand_id,
        before={"status": frm},
        after={"status": to, "reason": str(reason)},
    )
    return quote


@transaction.atomic
def withdraw_quote(actor, quote_id, *, reason: str = "") -> Quote:
    """open → withdrawn, by the supplier."""
    reason = _reason(reason)
    _demand, quote = _negotiation(actor, quote_id, "supply")
    return _move_quote(actor, quote, QuoteStatus.WITHDRAWN, SUPPLIER, reason=reason)


@transaction.atomic
def decline_quote(actor, quote_id, *, reason: str = "") -> Quote:
    """open → declined, by the buyer."""
    reason = _reason(reason)
    _demand, quote = _negotiation(actor, quote_id, "buy")
    return _move_quote(actor, quote, QuoteStatus.DECLINED, BUYER, reason=reason)


@transaction.atomic
def award_quote(actor, quote_id, quantity=None) -> AwardedTerms:
    """The buyer awards a quote on the supplier's latest terms (``awaiting_supplier`` if its own counter is
    the latest), unless they have expired (``quote_expired``), for ``quantity`` (default: the quoted one;
    at most that, ``award_exceeds_quote``). Several quotes of one demand may be awarded as long as the
    awarded quantities add up to no more than the demand's (``award_exceeds_demand``); when they reach
    it, the demand is awarded and its other open quotes are declined.

    The demand row and then all its quotes are locked, so two concurrent awards cannot both fit. The
    ``AwardedTerms`` row is what the order step (next) turns into an order; no order is created here.
    """
    visible = _visible(Quote, actor, quote_id)
    demand = Demand.objects.select_for_update().get(pk=visible.demand_id)
    quote = _locked(Quote, actor, "buy", visible.pk)
    list(Quote.objects.select_for_update().filter(demand=demand).order_by("id").values_list("id", flat=True))
    quote = Quote.objects.select_related("current_revision").get(pk=quote.pk)
    _demand_active(demand)
    if QUOTE_TRANSITIONS.get(quote.status, {}).get(QuoteStatus.AWARDED) != BUYER:
        raise _illegal(_("quote"), QuoteStatus(quote.status), QuoteStatus.AWARDED)
    revision = quote.current_revision
    if revision.side != Side.SUPPLIER:
        raise Conflict(
            _("The latest terms are your counter-offer: wait for the supplier's answer."),
            code="awaiting_supplier",
        )
    if revision.valid_until < timezone.localdate():
        raise Conflict(
            _("This quote expired on %(date)s and cannot be awarded.") % {"date": revision.valid_until},
            code="quote_expired",
        )
    amount = revision.quantity if quantity in (None, "") else values.quantity(quantity, "quantity")
    if amount > revision.quantity:
        raise InvalidInput(
            _("The award is more than the quoted quantity (%(q)s).") % {"q": revision.quantity},
            code="award_exceeds_quote",
            fields={"quantity": str(amount)},
        )
    awarded = AwardedTerms.objects.filter(demand=demand).aggregate(s=Sum("quantity"))["s"] or 0
    if awarded + amount > demand.quantity:
        raise Conflict(
            _("Awarding %(q)s would exceed the demand: %(awarded)s of %(total)s %(unit)s already awarded.")
            % {"q": amount, "awarded": awarded, "total": demand.quantity, "unit": demand.unit},
            code="award_exceeds_demand",
        )
    total = to_fen(revision.unit_price * amount)
    terms = AwardedTerms.objects.create(
        quote=quote,
        revision=revision,
        demand=demand,
        cluster_id=demand.cluster_id,
        buyer_id=demand.buyer_id,
        supplier_id=quote.supplier_id,
        quantity=amount,
        unit=demand.unit,
        unit_price=revision.unit_price,
        total=total,
        currency=demand.currency,
        delivery_date=revision.delivery_date,
        payment_terms=revision.payment_terms,
        awarded_by=actor,
    )
    _move_quote(actor, quote, QuoteStatus.AWARDED, BUYER)
    audit.record(
        actor,
        "quote.award_terms",
        terms,
        cluster_id=demand.cluster_id,
        enterprise_id=demand.buyer_id,
        after={
            "quote": quote.pk,
            "revision": revision.number,
            "supplier": quote.supplier_id,
            "quantity": amount,
            "unit_price": revision.unit_price,
            "total": total,
            "payment_terms": revision.payment_terms,
        },
    )
    if awarded + amount == demand.quantity:
        _move_demand(actor, demand, DemandStatus.AWARDED)
        _decline_open_quotes(actor, demand, _("The demand was fully awarded."))
    return terms


# ---------------------------------------------------------------- messages


@transaction.atomic
def post_message(actor, quote_id, body) -> RfqMessage:
    """An admin or staff user of the buyer or of the supplier writes in the quote's thread (≤ 2000
    characters). Only the two parties read it."""
    quote = _visible(Quote, actor, quote_id)
    p = principal_for(actor)
    if quote.buyer_id in p.enterprise_ids and p.staff_of(quote.buyer_id):
        side, enterprise_id = Side.BUYER, quote.buyer_id
    elif quote.supplier_id in p.enterprise_ids and p.staff_of(quote.supplier_id):
        side, enterprise_id = Side.SUPPLIER, quote.supplier_id
    else:
        raise Forbidden()
    text = values.text(body, "body", max_length=MESSAGE_MAX_LENGTH, required=True)
    message = RfqMessage.objects.create(
        demand_id=quote.demand_id,
        quote=quote,
        cluster_id=quote.cluster_id,
        author=actor,
        author_enterprise_id=enterprise_id,
        side=side,
        body=text,
    )
    audit.record(
        actor,
        "rfq_message.post",
        message,
        cluster_id=quote.cluster_id,
        enterprise_id=enterprise_id,
        after={"quote": quote.pk, "side": side, "length": len(text)},
    )
    return message
