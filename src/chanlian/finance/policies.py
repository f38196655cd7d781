"""Permission policies of the finance models, registered with the core chokepoint.

Who sees what:
  * a receivable: the users (admin, staff, viewer) of its creditor and of its debtor — nobody else, not
    the cluster's operator, not a lender (a lender will see an asset only with the holder's consent, a
    later part of issue #5);
  * a voucher, its events (the chain of custody) and its transfers: the users of its **issuer** and of
    every enterprise that **holds or held** it (``VoucherHolder``); while a transfer is pending, also the
    users of the enterprise it is offered to (it must read what it accepts). Nobody else: 404;
  * a financed-asset fingerprint: platform admins only.

Actions:
  ``view``     read;
  ``register`` a receivable's creditor acting (admin or staff);
  ``hold``     a voucher's current holder acting (admin or staff): split, transfer;
  ``receive``  the enterprise a pending transfer is offered to (admin or staff): accept, decline.
Confirmation (确权) needs an **admin** of the debtor; the service checks it (``services._debtor_admin``).
Platform admins may read everything; they act only as a member of the enterprise concerned.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Exists, OuterRef, Q

from chanlian.core.permissions import policy, restrict, sql_policy
from chanlian.registry.principal import principal_for

from .choices import TransferStatus
from .models import FinancedAsset, Receivable, Voucher, VoucherEvent, VoucherHolder, VoucherTransfer


def _acting(p) -> list[int]:
    return [eid for eid, role in p.roles.items() if role in ("admin", "staff")]


@policy(Receivable)
def receivable_policy(qs, user, action):
    p = principal_for(user)
    if action == "view":
        if p.is_platform_admin:
            return qs
        ids = list(p.enterprise_ids)
        return qs.filter(Q(creditor_id__in=ids) | Q(debtor_id__in=ids))
    if action == "register":
        return qs.filter(creditor_id__in=_acting(p))
    return qs.none()


def _pending_to(enterprise_ids):
    return Exists(
        VoucherTransfer.objects.filter(
            voucher=OuterRef("pk"), status=TransferStatus.PENDING, to_enterprise_id__in=enterprise_ids
        )
    )


@policy(Voucher)
def voucher_policy(qs, user, action):
    p = principal_for(user)
    if action == "view":
        if p.is_platform_admin:
            return qs
        ids = list(p.enterprise_ids)
        if not ids:
            return qs.none()
        held = Exists(VoucherHolder.objects.filter(voucher=OuterRef("pk"), enterprise_id__in=ids))
        return qs.filter(Q(issuer_id__in=ids) | held | _pending_to(ids))
    if action == "hold":
        return qs.filter(holder_id__in=_acting(p))
    if action == "receive":
        return qs.filter(_pending_to(_acting(p)))
    return qs.none()


def _in(column: str, ids: list[int]) -> tuple[str, list]:
    if not ids:
        return "1 = 0", []
    return f"{column} IN ({', '.join(['%s'] * len(ids))})", list(ids)


@sql_policy(Voucher)
def voucher_sql_policy(user, action):
    """``voucher_policy``'s ``hold`` and ``receive`` as SQL predicates over ``finance_voucher`` (the
    services' one locking statement of a voucher move); ``view`` is left to the queryset."""
    qn = connection.ops.quote_name
    voucher = qn(Voucher._meta.db_table)
    if action == "hold":
        return _in(f"{voucher}.{qn('holder_id')}", _acting(principal_for(user)))
    if action == "receive":
        ids = _acting(principal_for(user))
        if not ids:
            return "1 = 0", []
        to, params = _in("pt.to_enterprise_id", ids)
        sql = (
            f"EXISTS (SELECT 1 FROM {qn(VoucherTransfer._meta.db_table)} AS pt "  # noqa: S608 — model names
            f"WHERE pt.voucher_id = {voucher}.id AND pt.status = %s AND {to})"
        )
        return sql, [TransferStatus.PENDING, *params]
    return None


def _voucher_part(qs, user, action):
    return (
        qs.filter(voucher__in=restrict(Voucher, user, "view").values("id")) if action == "view" else qs.none()
    )


for _model in (VoucherEvent, VoucherTransfer, VoucherHolder):
    policy(_model)(_voucher_part)


@policy(FinancedAsset)
def financed_asset_policy(qs, user, action):
    return qs if action == "view" and principal_for(user).is_platform_admin else qs.none()
