"""Listings in bulk from an XLSX file, and the XLSX exports of listings and orders.

``import_listings`` is all or nothing. It reads the whole file first (``trade.xlsx``: package and structure
checks), then judges **every** row with the single-listing validation (``market._clean_listing``: the
category's spec through ``validate_spec``, the unit, title, quantities, tiers, lead time; the origin
through the same ``_county`` check), and if any row is bad it creates nothing and raises
``InvalidInput(code="import_invalid", fields={"rows": [{sheet, row, column, field, code, message}…]})``.
Otherwise one transaction creates every listing (bulk inserts of listings, tiers and — when published —
their events), the ``ImportBatch`` row and **one** audit entry for the import with its count and ids.
Bulk inserts skip ``Listing.save()`` and send no ``post_save``; instead ``listings_imported`` is sent
**once** per import, inside its transaction, with the new ids and whether they are published: whatever
follows listings (the search index of ``matching``, which builds the rows of all of them in bulk) does
its work in a few statements rather than one listing at a time, and trade stays unaware of who listens.

Who may: an admin or staff user of a company that is a verified member of the cluster — the same rule
as ``create_listing``. Parsing and validation run before the transaction opens, so a big file does not
hold the database's write lock while it is read; the permission and the replay check are repeated inside
it, under a lock on the supplier's row (two imports by one supplier queue, and the second sees the first).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _

from chanlian.core import audit
from chanlian.core.errors import Conflict, InvalidInput, NotFound, ServiceError
from chanlian.core.money import CNY
from chanlian.core.permissions import restrict
from chanlian.registry.models import Cluster, Enterprise
from chanlian.registry.principal import principal_for

from .. import xlsx
from ..choices import ListingStatus, OrderStatus, PaymentTerms
from ..models import ImportBatch, Listing, ListingEvent, PriceTier
from .market import (
    _acting_enterprise,
    _clean_listing,
    _cluster,
    _county,
    _pk,
    _require_company,
    _require_verified_member,
)

__all__ = [
    "ImportResult",
    "export_listings",
    "export_orders",
    "import_listings",
    "listing_template",
    "listings_imported",
]

BATCH_SIZE = 1000

# Sent once per import, inside its transaction, after every row is inserted: ``sender=Listing``,
# ``listing_ids`` (the new ids, in file order) and ``published`` (bool). Receivers must not assume
# ``post_save`` was sent for these listings — it is not.
listings_imported = Signal()


@dataclass(frozen=True)
class ImportResult:
    batch_id: int
    count: int
    listing_ids: list[int]
    published: bool
    sha256: str
    per_category: dict[str, int] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------- template


def listing_template(cluster: Cluster) -> bytes:
    """The XLSX listing template of ``cluster``'s industry pack, in the active language (see
    ``trade.xlsx`` for its sheets, hidden key rows and drop-downs)."""
    return xlsx.listing_template_workbook(cluster.pack)


def visible_cluster(actor, cluster_id) -> Cluster:
    """A cluster ``actor`` may see, or ``NotFound`` exactly like a missing one."""
    cluster = restrict(Cluster, actor, "view").filter(pk=_pk(cluster_id)).first()
    if cluster is None:
        raise NotFound()
    return cluster


# -------------------------------------------------------------------------------------------- import


def _read(file) -> tuple[bytes, str]:
    """The upload's bytes (at most the limit + 1, so a huge upload is not read whole) and its name."""
    if isinstance(file, bytes | bytearray):
        return bytes(file), "listings.xlsx"
    name = str(getattr(file, "name", "") or "listings.xlsx").replace("\\", "/").rsplit("/", 1)[-1][-200:]
    size = getattr(file, "size", None)
    if isinstance(size, int) and size > xlsx.MAX_FILE_BYTES:
        raise xlsx.too_large()
    if not hasattr(file, "read"):
        raise InvalidInput(_("Upload the file."), code="empty_file", fields={"file": "required"})
    if hasattr(file, "seek"):
        file.seek(0)
    return bytes(file.read(xlsx.MAX_FILE_BYTES + 1) or b""), name


def _tier_field(index: int, part: str) -> str:
    return f"tier{index + 1}_{part}"


def _column_of(key: str) -> str:
    """The template column a service field name points at."""
    if key.startswith("tiers["):
        inside = key[6:].split("]", 1)
        index = int(inside[0]) if inside[0].isdigit() else 0
        part = "unit_price" if key.endswith("unit_price") else "min_quantity"
        return _tier_field(index, part)
    if key in ("tiers", "spec"):
        return "tier1_min_quantity" if key == "tiers" else ""
    if key == "region":
        return "origin"
    return key


def _row_data(sheet: xlsx.SheetData, row: dict, units: dict[str, str]) -> dict:
    """A row of the template as the keyword arguments of ``create_listing``."""
    data: dict = {"category": sheet.category}
    for key in ("title", "description", "moq", "available_quantity"):
        if key in row:
            data[key] = row[key]
    data["lead_time_days"] = row.get("lead_time_days") or 0
    unit = row.get("unit")
    if unit is not None:
        data["unit"] = units.get(unit.casefold(), unit)
    tiers = []
    for i in range(xlsx.TIERS):
        low, price = row.get(_tier_field(i, "min_quantity")), row.get(_tier_field(i, "unit_price"))
        if low is None and price is None:
            continue
        tiers.append({"min_quantity": low, "unit_price": price})
    data["tiers"] = tiers
    data["spec"] = {
        key[len(xlsx.SPEC_PREFIX) :]: value
        for key, value in row.items()
        if key.startswith(xlsx.SPEC_PREFIX) and value is not None
    }
    return data


class _Origins:
    """Origin counties looked up once per distinct code (a 10,000-row file names a handful)."""

    def __init__(self, default):
        self.default = default
        self.cache: dict[str, object] = {}

    def get(self, raw):
        from chanlian.regions.selectors import read_region_code

        if raw in (None, ""):
            if self.default is None:
                raise InvalidInput(
                    _("Give the county of origin."), code="required", fields={"origin": "required"}
                )
            return self.default
        code = read_region_code(raw)
        if code not in self.cache:
            try:
                self.cache[code] = _county(code, "origin")
            except InvalidInput as exc:
                self.cache[code] = exc
        found = self.cache[code]
        if isinstance(found, InvalidInput):
            raise found
        return found


def _errors(sheet: xlsx.SheetData, number: int, exc: ServiceError) -> list[dict]:
    fields = exc.fields or {}
    out = []
    if exc.code == "invalid_spec" and fields and "spec" not in fields:
        for attr, message in fields.items():
            key = xlsx.SPEC_PREFIX + str(attr)
            out.append(
                {
                    "sheet": sheet.title,
                    "row": number,
                    "column": sheet.letter(key),
                    "field": key,
                    "code": exc.code,
                    "message": str(message),
                }
            )
        return out
    key = _column_of(next(iter(fields), "")) if fields else ""
    if not key and exc.code in ("unknown_region", "not_a_county"):
        key = "origin"
    return [
        {
            "sheet": sheet.title,
            "row": number,
            "column": sheet.letter(key) if key else "",
            "field": key,
            "code": exc.code,
            "message": str(exc.detail),
        }
    ]


def _authorise(actor, cluster_id, supplier) -> tuple[Cluster, Enterprise]:
    visible_cluster(actor, cluster_id)
    enterprise = _acting_enterprise(actor, supplier, "supplier")
    _require_company(enterprise, "sell")
    cluster = _cluster(cluster_id)
    _require_verified_member(cluster, enterprise)
    return cluster, enterprise


def _replayed(cluster: Cluster, enterprise: Enterprise, digest: str) -> ImportBatch | None:
    return ImportBatch.objects.filter(cluster=cluster, supplier=enterprise, sha256=digest).first()


def _duplicate(batch: ImportBatch) -> Conflict:
    return Conflict(
        _("This file was already imported on %(when)s (%(count)d listings). Confirm to import it again.")
        % {"when": timezone.localtime(batch.created_at).strftime("%Y-%m-%d %H:%M"), "count": batch.row_count},
        code="duplicate_import",
        fields={"batch": str(batch.pk)},
    )


def import_listings(
    actor, cluster_id, file, *, publish: bool = False, supplier=None, confirm: bool = False
) -> ImportResult:
    """Create every listing of an uploaded template (XLSX) in ``cluster_id`` for the actor's supplier,
    as drafts, or published with ``publish=True``. All or nothing (module docstring). Refusals:
    the file's (``empty_file``, ``file_too_large``, ``not_xlsx``, ``unknown_sheet``, ``wrong_pack``,
    ``unknown_category``, ``unknown_header``, ``duplicate_column``, ``missing_column``, ``no_rows``,
    ``too_many_rows``), the rows' (``import_invalid``), a replay (409 ``duplicate_import`` unless
    ``confirm``), and every permission refusal of ``create_listing``."""
    cluster, enterprise = _authorise(actor, cluster_id, supplier)
    data, filename = _read(file)
    xlsx.check_package(data)
    digest = hashlib.sha256(data).hexdigest()
    if not confirm:
        earlier = _replayed(cluster, enterprise, digest)
        if earlier is not None:
            raise _duplicate(earlier)
    pack = cluster.pack
    sheets = xlsx.read_listing_workbook(
        data, pack, known_columns=lambda category: xlsx.category_columns(pack, category)
    )

    region = enterprise.region
    origins = _Origins(region if region.level == "county" else None)
    problems: list[dict] = []
    prepared: list[tuple[dict, list]] = []
    per_category: dict[str, int] = {}
    for sheet in sheets:
        units = xlsx.unit_choices(pack, pack.category(sheet.category))
        for number, row in sheet.rows:
            try:
                origin = origins.get(row.get("origin"))
            except ServiceError as exc:
                problems.extend(_errors(sheet, number, exc))
                origin = None
            try:
                cleaned, tiers = _clean_listing(cluster, _row_data(sheet, row, units))
            except ServiceError as exc:
                problems.extend(_errors(sheet, number, exc))
                continue
            if origin is None:
                continue
            cleaned["origin"] = origin
            prepared.append((cleaned, tiers))
            per_category[sheet.category] = per_category.get(sheet.category, 0) + 1
    if problems:
        bad_rows = len({(p["sheet"], p["row"]) for p in problems})
        raise InvalidInput(
            _("%(n)d rows of the file are not valid; nothing was imported.") % {"n": bad_rows},
            code="import_invalid",
            fields={"rows": problems},
        )
    return _create(
        actor, cluster, enterprise, prepared, publish, filename, digest, len(data), confirm, per_category
    )


@transaction.atomic
def _create(actor, cluster, enterprise, prepared, publish, filename, digest, size, confirm, per_category):
    # Under the supplier's row lock: the membership may have been revoked, or the same file imported,
    # while the file was being read.
    Enterprise.objects.select_for_update().filter(pk=enterprise.pk).values_list("pk").first()
    principal = principal_for(actor)
    if not principal.staff_of(enterprise.pk):
        raise NotFound()
    _require_verified_member(cluster, enterprise)
    if not confirm:
        earlier = _replayed(cluster, enterprise, digest)
        if earlier is not None:
            raise _duplicate(earlier)
    now = timezone.now()
    status = ListingStatus.PUBLISHED if publish else ListingStatus.DRAFT
    batch = ImportBatch.objects.create(
        cluster=cluster,
        supplier=enterprise,
        filename=filename,
        sha256=digest,
        size=size,
        row_count=len(prepared),
        published=publish,
        created_by=actor,
    )
    listings = [
        Listing(
            cluster=cluster,
            supplier=enterprise,
            currency=CNY,
            created_by=actor,
            status=status,
            published_at=now if publish else None,
            **cleaned,
        )
        for cleaned, _tiers in prepared
    ]
    Listing.objects.bulk_create(listings, batch_size=BATCH_SIZE)
    if any(listing.pk is None for listing in listings):  # a backend that returns no ids from bulk inserts
        raise RuntimeError("bulk_create returned no primary keys")
    PriceTier.objects.bulk_create(
        [
            PriceTier(listing=listing, min_quantity=q, unit_price=p)
            for listing, (_cleaned, tiers) in zip(listings, prepared, strict=True)
            for q, p in tiers
        ],
        batch_size=BATCH_SIZE,
    )
    if publish:
        ListingEvent.objects.bulk_create(
            [
                ListingEvent(
                    listing=listing,
                    from_status=ListingStatus.DRAFT,
                    to_status=ListingStatus.PUBLISHED,
                    actor=actor,
                    reason="import",
                )
                for listing in listings
            ],
            batch_size=BATCH_SIZE,
        )
    ids = [listing.pk for listing in listings]
    batch.listing_ids = ids
    batch.save(update_fields=["listing_ids"])
    listings_imported.send(sender=Listing, listing_ids=ids, published=publish)
    audit.record(
        actor,
        "listing.import",
        batch,
        cluster_id=cluster.pk,
        enterprise_id=enterprise.pk,
        after={
            "count": len(ids),
            "status": status,
            "file": filename,
            "sha256": digest,
            "listing_ids": ids,
            "per_category": per_category,
            "replay_confirmed": bool(confirm),
        },
    )
    return ImportResult(
        batch_id=batch.pk,
        count=len(ids),
        listing_ids=ids,
        published=publish,
        sha256=digest,
        per_category=per_category,
    )


# --------------------------------------------------------------------------------------------- exports


def _pack_category(cache: dict, pack_key: str, category_key: str):
    from chanlian.industry.packs import get_pack

    if pack_key not in cache:
        try:
            cache[pack_key] = get_pack(pack_key)
        except Exception:
            cache[pack_key] = None
    pack = cache[pack_key]
    if pack is None or not pack.has_category(category_key):
        return None
    return pack.category(category_key)


def _spec_text(category, spec: dict) -> str:
    if category is None:
        return "; ".join(f"{k}={v}" for k, v in (spec or {}).items())
    parts = []
    for key, value in (spec or {}).items():
        attr = category.get_attribute(key)
        if attr is None:
            parts.append(f"{key}={value}")
            continue
        shown = value
        if attr.type == "enum":
            choice = attr.choice(str(value))
            shown = xlsx._local(choice) if choice else value
        elif attr.type == "boolean":
            shown = _("Yes") if value else _("No")
        elif attr.unit:
            shown = f"{value} {attr.unit}"
        parts.append(f"{xlsx._local(attr)}: {shown}")
    return "; ".join(parts)


def export_listings(actor, cluster_id=None) -> bytes:
    """The listings of the enterprises ``actor`` belongs to (any role), in every status, newest first,
    as one XLSX sheet: ids, cluster, category, status in the reader's language, terms, up to three tiers
    as numbers, the spec in words."""
    from .. import selectors

    p = principal_for(actor)
    qs = selectors.listings(actor, cluster=cluster_id).filter(supplier_id__in=sorted(p.enterprise_ids))
    col = xlsx.Out
    labels = xlsx.fixed_labels()
    columns = [
        col(_("ID"), 8),
        col(_("Cluster"), 24),
        col(_("Supplier"), 24),
        col(_("Category"), 18),
        col(_("Category key"), 14),
        col(_("Title"), 36),
        col(_("Status"), 12),
        col(_("Unit"), 8),
        col(_("Minimum order quantity"), 12, "0.###"),
        col(_("Available quantity"), 12, "0.###"),
        col(_("Lead time (days)"), 10),
        col(labels["origin"], 10),
        col(_("Origin"), 24),
        *(
            column
            for i in range(1, xlsx.TIERS + 1)
            for column in (
                col(labels[f"tier{i}_min_quantity"], 12, "0.###"),
                col(labels[f"tier{i}_unit_price"], 12, "0.00"),
            )
        ),
        col(_("More tiers"), 8),
        col(_("Currency"), 8),
        col(_("Specification"), 48),
        col(_("Published"), 18),
        col(_("Updated"), 18),
    ]
    packs: dict = {}

    def rows():
        for listing in qs.iterator(chunk_size=500):
            category = _pack_category(packs, listing.cluster.pack_key, listing.category)
            tiers = [(t.min_quantity, t.unit_price) for t in listing.tiers.all()]
            tier_cells = []
            for i in range(xlsx.TIERS):
                tier_cells += list(tiers[i]) if i < len(tiers) else [None, None]
            yield [
                listing.pk,
                listing.cluster.name,
                listing.supplier.name,
                xlsx._local(category) if category else listing.category,
                listing.category,
                listing.title,
                str(ListingStatus(listing.status).label),
                listing.unit,
                listing.moq,
                listing.available_quantity,
                listing.lead_time_days,
                listing.origin_id,
                listing.origin.full_name,
                *tier_cells,
                max(0, len(tiers) - xlsx.TIERS),
                listing.currency,
                _spec_text(category, listing.spec),
                _local_time(listing.published_at),
                _local_time(listing.updated_at),
            ]

    return xlsx.write_table("listings", columns, rows())


def _local_time(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def export_orders(actor, *, role=None, status=None, cluster=None) -> bytes:
    """The orders ``actor`` sees (``selectors.orders`` with the same filters: role buyer/supplier,
    status, cluster), newest first, as one XLSX sheet: reference, dates, parties, the item, quantity,
    unit price and amounts as numbers with two decimals, payment terms and status in the reader's
    language."""
    from .. import selectors

    qs = selectors.orders(actor, role=role, status=status, cluster=cluster)
    col = xlsx.Out
    columns = [
        col(_("Reference"), 14),
        col(_("Placed"), 12),
        col(_("Cluster"), 24),
        col(_("Buyer"), 26),
        col(_("Supplier"), 26),
        col(_("Category"), 14),
        col(_("Item"), 36),
        col(_("Quantity"), 12, "0.###"),
        col(_("Unit"), 8),
        col(_("Unit price"), 12, "0.00"),
        col(_("Amount"), 14, "0.00"),
        col(_("Accepted amount"), 14, "0.00"),
        col(_("Platform fee"), 12, "0.00"),
        col(_("Currency"), 8),
        col(_("Payment terms"), 22),
        col(_("Status"), 22),
        col(_("Delivery county"), 22),
        col(_("Delivery date"), 12),
        col(_("Payment due"), 12),
        col(_("Settled"), 12),
    ]

    def day(value):
        if value is None:
            return ""
        if hasattr(value, "hour"):
            value = timezone.localtime(value).date()
        return value.isoformat()

    def rows():
        for order in qs.iterator(chunk_size=500):
            yield [
                order.reference,
                day(order.placed_at),
                order.cluster.name,
                order.buyer.name,
                order.supplier.name,
                order.category,
                order.title,
                order.quantity,
                order.unit,
                order.unit_price,
                order.amount,
                order.accepted_amount,
                order.fee_amount,
                order.currency,
                str(PaymentTerms(order.payment_terms).label),
                str(OrderStatus(order.status).label),
                order.delivery_region.full_name,
                day(order.delivery_date),
                day(order.due_date),
                day(order.settled_at),
            ]

    return xlsx.write_table("orders", columns, rows())
