"""Supply-chain finance writes: receivables, confirmation (确权) into vouchers, splits and transfers.

Rules (each service's docstring states its own; docs/finance.md has the tables):

* an order on payment terms that is **accepted and invoiced** yields a receivable for its supplier:
  creditor = supplier, debtor = buyer, amount = the accepted amount still owed, due = the order's due
  date (``receivable_for``); the supplier registers it (``register_receivable``), once per order;
* the **four-flow check** (``selectors.four_flow``) is recomputed at every decision: a receivable that
  fails it cannot be confirmed (409 ``four_flow_failed``), and later cannot be financed;
* confirmation is a deliberate act of an **admin of the debtor**, who re-enters the password; it issues a
  voucher (数字债权凭证) by the debtor to the creditor for the amount, maturing on the due date;
* the holder splits a voucher into parts that sum to it exactly, to the fen, or transfers it to one of
  its own suppliers, who accepts or declines; every step is a ``VoucherEvent`` (the chain of custody) and
  an audit entry;
* a foreign object is 404 like a missing one; one the actor sees but may not act on is 403.

Locks: a confirmation locks the order row, then the receivable's (the order first, as trade does, so a
terms payment and a confirmation serialise); a voucher move locks the voucher's row
(``select_for_update``) and re-reads its status under the lock, so of two concurrent splits or transfers
of one voucher exactly one wins — the other finds it ``split`` or ``transferring`` (409).

Statements (bench/finance.py measures them; docs/benchmarks.md "Finance"): a voucher move reads what it
checks in the **one** statement that locks the voucher (the fingerprint, a number clash, the receiver and
the supplier relation, the pending transfer — as ``EXISTS``/scalar subqueries or a lateral join), writes
each table once (multi-row ``INSERT``, ``UPDATE`` by primary key, no save machinery) and appends to the
audit chain last. On PostgreSQL that statement also takes the fresh ids the move needs and locks the
audit chain's head (after the voucher), and every write goes as one statement (``core.writes``): a move
is four statements, ``BEGIN``/``COMMIT`` included. Elsewhere split is 10, transfer 9, accept 10.
"""

from __future__ import annotations

import secrets
from decimal import Decimal

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.db.models import BigIntegerField, BooleanField
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from chanlian.core import audit, reauth
from chanlian.core.db import Columns
from chanlian.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from chanlian.core.money import parse_amount
from chanlian.core.params import parse_id
from chanlian.core.permissions import restrict, restrict_sql
from chanlian.core.writes import Writes
from chanlian.registry.choices import EnterpriseKind, EnterpriseRole
from chanlian.registry.models import Enterprise
from chanlian.registry.principal import principal_for
from chanlian.trade.choices import InvoiceStatus, OrderStatus, PaymentTerms
from chanlian.trade.models import Invoice, Order

from . import selectors
from .choices import (
    VOUCHER_TRANSITIONS,
    AssetKind,
    ReceivableStatus,
    TransferStatus,
    VoucherEventKind,
    VoucherStatus,
)
from .models import FinancedAsset, Receivable, Voucher, VoucherEvent, VoucherHolder, VoucherTransfer

__all__ = [
    "accept_voucher_transfer",
    "claim_asset",
    "confirm_receivable",
    "decline_voucher_transfer",
    "fingerprints",
    "receivable_for",
    "register_receivable",
    "split_voucher",
    "transfer_voucher",
    "withdraw_voucher_transfer",
]

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
MAX_PARTS = 100
# Orders a receivable can come from: on terms, accepted, awaiting the buyer's payment.
TERMS = frozenset(PaymentTerms.values) - {PaymentTerms.ESCROW}


def _pk(value) -> int:
    try:
        return parse_id(value, "id")
    except InvalidInput:
        raise NotFound() from None


# ---------------------------------------------------------------------------------------- receivables


def receivable_for(order: Order) -> Receivable:
    """The receivable ``order`` yields: the registered one, or an unsaved one with its terms.

    Only an order on payment terms that is accepted (awaiting the buyer's payment), with something still
    owed and at least one invoice that was not rejected, yields one; otherwise 409 ``not_receivable``."""
    existing = Receivable.objects.filter(order_id=order.pk).first()
    if existing is not None:
        return existing
    if order.payment_terms not in TERMS:
        raise Conflict(_("Only an order on payment terms yields a receivable."), code="not_receivable")
    if order.status != OrderStatus.ACCEPTED or order.accepted_amount is None:
        raise Conflict(
            _("Only an accepted order awaiting payment yields a receivable."), code="not_receivable"
        )
    owed = selectors.outstanding(order)
    if owed <= 0:
        raise Conflict(_("Nothing is owed on this order."), code="not_receivable")
    if not Invoice.objects.filter(order_id=order.pk).exclude(status=InvoiceStatus.REJECTED).exists():
        raise Conflict(_("Record the order's invoice first."), code="not_receivable")
    return Receivable(
        order=order,
        cluster_id=order.cluster_id,
        creditor_id=order.supplier_id,
        debtor_id=order.buyer_id,
        amount=owed,
        currency=order.currency,
        due_date=order.due_date,
    )


@transaction.atomic
def register_receivable(actor, order_id) -> Receivable:
    """The supplier's admins or staff register the receivable of an accepted, invoiced order on terms
    (``receivable_for``). Once per order: again is 409 ``already_registered``. The four-flow check is not
    required to register — the receivable page shows what fails — but it is to confirm."""
    from chanlian.trade.services.orders import lock_order

    order = lock_order(actor, _pk(order_id), "supply")
    if Receivable.objects.filter(order_id=order.pk).exists():
        raise Conflict(_("This order's receivable is already registered."), code="already_registered")
    receivable = receivable_for(order)
    receivable.registered_by = actor
    try:
        with transaction.atomic():
            receivable.save()
    except IntegrityError:
        raise Conflict(
            _("This order's receivable is already registered."), code="already_registered"
        ) from None
    check = selectors.four_flow(order, receivable)
    audit.record(
        actor,
        "receivable.registered",
        receivable,
        cluster_id=order.cluster_id,
        enterprise_id=order.supplier_id,
        after={
            "order": order.pk,
            "amount": receivable.amount,
            "due_date": receivable.due_date,
            "four_flow": {c.key: c.ok for c in check.checks},
        },
    )
    return receivable


def _debtor_admin(actor, receivable: Receivable) -> None:
    if principal_for(actor).roles.get(receivable.debtor_id) != EnterpriseRole.ADMIN:
        raise Forbidden(
            _("Only an administrator of the debtor may confirm the receivable."), code="not_debtor"
        )


def _new_number() -> str:
    return _new_numbers(1)[0]


def _candidate_numbers(n: int) -> list[str]:
    """``n`` distinct random voucher numbers, not yet checked against the table: the caller checks them in
    the statement that locks the voucher (``clash``) and falls back to ``_new_numbers`` on a clash."""
    wanted: set[str] = set()
    while len(wanted) < n:
        wanted.add("PZ" + "".join(secrets.choice(CROCKFORD) for _i in range(10)))
    return sorted(wanted)


def _new_numbers(n: int) -> list[str]:
    """``n`` fresh voucher numbers, checked against the table in one query (not one per part)."""
    numbers: list[str] = []
    for _attempt in range(20):
        wanted = {
            "PZ" + "".join(secrets.choice(CROCKFORD) for _i in range(10)) for _j in range(n - len(numbers))
        }
        taken = set(Voucher.objects.filter(number__in=wanted).values_list("number", flat=True))
        numbers += sorted(wanted - taken - set(numbers))
        if len(numbers) >= n:
            return numbers[:n]
    raise Conflict(_("Could not allocate a voucher number; try again."), code="number_exhausted")


def _event_row(voucher, kind, actor, *, amount=None, frm=None, to=None, **data) -> VoucherEvent:
    return VoucherEvent(
        voucher=voucher,
        kind=kind,
        actor=actor if getattr(actor, "pk", None) else None,
        from_enterprise_id=frm,
        to_enterprise_id=to,
        amount=voucher.amount if amount is None else amount,
        data=data,
    )


def _db():
    """The database wrapper itself, not the ``connection`` proxy (``core.writes``)."""
    return connections[DEFAULT_DB_ALIAS]


def _hold(w: Writes | None, voucher: Voucher, enterprise_id: int) -> None:
    """``enterprise_id`` holds or held ``voucher``: one ``INSERT … ON CONFLICT DO NOTHING`` (the pair is
    unique), not a read, a savepoint and an insert."""
    (w or Writes()).insert(
        VoucherHolder, [VoucherHolder(voucher=voucher, enterprise_id=enterprise_id)], ignore_conflicts=True
    )


def _event(w: Writes | None, voucher, kind, actor, *, amount=None, frm=None, to=None, **data) -> None:
    (w or Writes()).insert(
        VoucherEvent, [_event_row(voucher, kind, actor, amount=amount, frm=frm, to=to, **data)]
    )


def _set(w: Writes, voucher: Voucher, **fields) -> None:
    """``UPDATE`` the voucher's ``fields`` (and ``updated_at``) by primary key, and the instance with it."""
    fields["updated_at"] = timezone.now()
    w.update(Voucher, voucher.pk, **fields)
    for name, value in fields.items():
        setattr(voucher, name, value)


def confirm_receivable(actor, receivable_id, *, password) -> Voucher:
    """The debtor confirms (确权) a registered receivable — its amount and due date — by an **admin**
    re-entering the password, and so issues a voucher: issuer = the debtor, holder = the creditor, for the
    amount, maturing on the due date.

    Refusals: not visible 404; visible but not an admin of the debtor 403 ``not_debtor``; already
    confirmed 409 ``already_confirmed``; wrong password 400 ``wrong_password`` (after 5 within 15
    minutes 429 ``too_many_attempts``: ``core.reauth``, checked in its own transaction after the
    visibility and role checks, so that the failure stays counted although the confirmation is refused);
    financed as a receivable already 409 ``already_financed``; the four-flow check fails now 409
    ``four_flow_failed`` (``fields`` names the failing checks)."""
    seen = selectors.receivable_for_user(actor, receivable_id)
    _debtor_admin(actor, seen)
    if seen.status != ReceivableStatus.REGISTERED:
        raise Conflict(_("This receivable is already confirmed."), code="already_confirmed")
    reauth.verify_password(actor, password)
    return _confirm_receivable(actor, receivable_id)


@transaction.atomic
def _confirm_receivable(actor, receivable_id) -> Voucher:
    seen = selectors.receivable_for_user(actor, receivable_id)
    _debtor_admin(actor, seen)
    order = Order.objects.select_for_update().get(pk=seen.order_id)
    receivable = Receivable.objects.select_for_update().get(pk=seen.pk)
    if receivable.status != ReceivableStatus.REGISTERED:
        raise Conflict(_("This receivable is already confirmed."), code="already_confirmed")
    if FinancedAsset.objects.filter(fingerprint=f"receivable:{receivable.pk}").exists():
        # Financed as a receivable already: a voucher of it could be financed a second time.
        raise Conflict(_("This receivable is pledged to a lender."), code="already_financed")
    check = selectors.four_flow(order, receivable)
    if not check.ok:
        raise Conflict(
            _("The four-flow check fails: %(why)s") % {"why": " ".join(c.reason for c in check.failed)},
            code="four_flow_failed",
            fields={c.key: c.reason for c in check.failed},
        )
    now = timezone.now()
    receivable.status = ReceivableStatus.CONFIRMED
    receivable.confirmed_by = actor
    receivable.confirmed_at = now
    receivable.save(update_fields=["status", "confirmed_by", "confirmed_at"])
    voucher = Voucher.objects.create(
        number=_new_number(),
        cluster_id=receivable.cluster_id,
        receivable=receivable,
        issuer_id=receivable.debtor_id,
        holder_id=receivable.creditor_id,
        amount=receivable.amount,
        currency=receivable.currency,
        maturity_date=receivable.due_date,
        issued_at=now,
    )
    voucher.root = voucher
    voucher.save(update_fields=["root"])
    _hold(None, voucher, receivable.creditor_id)
    _event(None, voucher, VoucherEventKind.ISSUED, actor, frm=receivable.debtor_id, to=receivable.creditor_id)
    audit.record(
        actor,
        "receivable.confirmed",
        receivable,
        cluster_id=receivable.cluster_id,
        enterprise_id=receivable.debtor_id,
        before={"status": ReceivableStatus.REGISTERED},
        after={
            "status": ReceivableStatus.CONFIRMED,
            "amount": receivable.amount,
            "due_date": receivable.due_date,
            "voucher": voucher.number,
        },
    )
    return voucher


# ------------------------------------------------------------------------------------------- vouchers


_QUOTED: dict[tuple, str] = {}


def _q(model, column: str = "") -> str:
    """A model's table (or ``table.column``), quoted, for the checks' SQL."""
    key = (model, column)
    if key not in _QUOTED:
        ops, table = _db().ops, model._meta.db_table
        _QUOTED[key] = ops.quote_name(table) + (f".{ops.quote_name(column)}" if column else "")
    return _QUOTED[key]


# The checks' output fields, made once: a field's construction cost more than the rest of a check.
_BOOLEAN, _BIGINT = BooleanField(), BigIntegerField()


def _exists(sql: str, params) -> RawSQL:
    """An ``EXISTS (SELECT 1 FROM …)`` check as an annotation of the locking statement. Plain SQL: the
    ORM's subquery compilation cost more than the statement (portable SQL, names from the models)."""
    return RawSQL(f"EXISTS (SELECT 1 FROM {sql})", list(params), output_field=_BOOLEAN)  # noqa: S608, S611


def _financed(pk: int) -> RawSQL:
    return _exists(f"{_q(FinancedAsset)} WHERE {_q(FinancedAsset, 'fingerprint')} = %s", [f"voucher:{pk}"])


def _lock_voucher(
    actor, voucher_id, action: str, *, ids: dict | None = None, pending: bool = False, **checks
) -> Voucher:
    """The voucher, its row locked, if ``actor`` may ``action`` it; visible but not allowed is 403,
    invisible 404. ``checks`` are annotations (``EXISTS``/scalar subqueries) read in the same statement,
    each an attribute of the row: what the move checks costs no statement of its own.

    Also read by that statement, as attributes: ``pending_id``/``pending_to``, the pending transfer
    (``pending``); and on PostgreSQL ``head``, this transaction's audit chain head, locked after the
    voucher (``core.audit.head_sql``), and ``new_ids``, fresh ids per model (``ids``: model → how many),
    so that the move's writes can be sent as one statement (``core.writes.Writes``). Elsewhere ``head``
    is ``None`` and ``new_ids`` empty: each write runs on its own.

    The permission is the policy's SQL predicate (``restrict_sql``, tested equal to ``restrict``) in one
    plain ``SELECT … FOR UPDATE``: building and compiling the restricted queryset was the largest part of
    a move's Python (bench/finance.py). Where no SQL rule covers the action, the queryset is used."""
    pk = _pk(voucher_id)
    allowed = restrict_sql(Voucher, actor, action)
    if allowed is None:
        if pending:
            checks.update(_pending_checks())
        qs = restrict(Voucher.objects.select_for_update(of=("self",)), actor, action).filter(pk=pk)
        # One row by primary key: no ORDER BY to compile (``first()`` would order by the model's ordering).
        row = next(iter((qs.annotate(**checks) if checks else qs).order_by()), None)
        if row is not None:
            row.head, row.new_ids = None, {}
    else:
        row = _select_voucher(pk, allowed, checks, ids or {}, pending)
    if row is None:
        if restrict(Voucher, actor, "view").filter(pk=pk).exists():
            if action == "hold":
                raise Forbidden(_("Only the voucher's current holder may do this."), code="not_holder")
            raise Forbidden(_("No transfer of this voucher awaits your enterprise."), code="not_receiver")
        raise NotFound()
    return row


def _pending_checks() -> dict[str, RawSQL]:
    """The pending transfer's id and receiver as scalar subqueries (where no lateral join locks it)."""
    pending = (
        f"(SELECT t.{{}} FROM {_q(VoucherTransfer)} AS t WHERE t.voucher_id = {_q(Voucher, 'id')}"  # noqa: S608
        " AND t.status = %s ORDER BY t.id LIMIT 1)"
    )
    return {
        name: RawSQL(pending.format(column), [TransferStatus.PENDING], output_field=_BIGINT)  # noqa: S611
        for name, column in (("pending_id", "id"), ("pending_to", "to_enterprise_id"))
    }


_LOCK_SQL: dict[tuple, str] = {}


def _lock_sql(db, columns: str, predicate: str, checks: dict, ids: dict, pending: bool) -> str:
    """The text of ``_select_voucher``'s statement (cached per shape: the values are parameters)."""
    extra = "".join(f", {check.sql} AS c{i}" for i, check in enumerate(checks.values()))
    sql = f"SELECT {columns}{extra} FROM {_q(Voucher)} WHERE {_q(Voucher, 'id')} = %s AND ({predicate})"  # noqa: S608
    if db.features.has_select_for_update:
        sql += " FOR UPDATE"
    if db.vendor != "postgresql":
        return sql
    outer = ["v.*"]
    outer += [
        "(SELECT array_agg(nextval(pg_get_serial_sequence(%s, %s))) FROM generate_series(1, %s))"
    ] * len(ids)
    joins = ""
    if pending:
        outer.append("pending.id, pending.to_enterprise_id")
        joins = (
            f" LEFT JOIN LATERAL (SELECT t.id, t.to_enterprise_id FROM {_q(VoucherTransfer)} AS t"  # noqa: S608
            " WHERE t.voucher_id = v.id AND t.status = %s ORDER BY t.id LIMIT 1 FOR UPDATE)"
            " AS pending ON true"
        )
    outer.append("audit_head.id, audit_head.seq, audit_head.hash")
    return f"SELECT {', '.join(outer)} FROM ({sql}) AS v{joins} {audit.head_sql('v.id')}"  # noqa: S608


def _select_voucher(
    pk: int, allowed: tuple[str, list], checks: dict[str, RawSQL], ids: dict, pending: bool
) -> Voucher | None:
    """``SELECT <the voucher's columns>, <checks> FROM finance_voucher WHERE id = pk AND <allowed> FOR
    UPDATE``, the row made an instance as the ORM makes it (``from_db``, each field's database converters
    applied), each check an attribute.

    On PostgreSQL that is the inner part of::

        SELECT v.*, <fresh ids>, pending.id, pending.to_enterprise_id, audit_head.*
        FROM (… FOR UPDATE) AS v
        LEFT JOIN LATERAL (<the pending transfer> FOR UPDATE) AS pending ON true
        LEFT JOIN LATERAL (<this transaction's audit head> FOR UPDATE) AS audit_head ON true

    The voucher is locked first (a subquery with ``FOR UPDATE`` is not merged into the outer query), then
    the pending transfer and the head: the order every voucher write takes them in."""
    db = _db()
    cols = Columns.of(Voucher)
    postgres = db.vendor == "postgresql"
    if pending and not postgres:
        checks = {**checks, **_pending_checks()}
    predicate, params = allowed
    values = [p for check in checks.values() for p in check.params] + [pk, *params]
    key = (db.vendor, predicate, tuple(check.sql for check in checks.values()), tuple(ids), pending)
    if key not in _LOCK_SQL:
        _LOCK_SQL[key] = _lock_sql(db, cols.sql, predicate, checks, ids, pending)
    sql = _LOCK_SQL[key]
    if postgres:
        fresh = [x for model, n in ids.items() for x in (model._meta.db_table, model._meta.pk.column, n)]
        values = fresh + values + ([TransferStatus.PENDING] if pending else [])
    with db.cursor() as cur:
        cur.execute(sql, values)
        row = cur.fetchone()
    if row is None:
        return None
    voucher = cols.instance(row)
    at = len(cols)
    for name in checks:
        setattr(voucher, name, row[at])
        at += 1
    voucher.head, voucher.new_ids = None, {}
    if postgres:
        for model in ids:
            voucher.new_ids[model] = row[at]
            at += 1
        if pending:
            voucher.pending_id, voucher.pending_to = row[at], row[at + 1]
            at += 2
        if row[at] is not None:
            voucher.head = (row[at], row[at + 1], row[at + 2])
    return voucher


def _require(voucher: Voucher, to: str) -> None:
    if to not in VOUCHER_TRANSITIONS.get(voucher.status, frozenset()):
        raise Conflict(
            _("A voucher that is %(frm)s cannot be moved now.")
            % {"frm": VoucherStatus(voucher.status).label},
            code="voucher_not_active",
        )


def _require_not_matured(voucher: Voucher) -> None:
    if voucher.maturity_date < timezone.localdate():
        raise Conflict(
            _("The voucher matured on %(d)s: it is paid, not split or transferred.")
            % {"d": voucher.maturity_date.isoformat()},
            code="voucher_matured",
        )


def _require_not_financed(voucher: Voucher) -> None:
    """Not claimed by a lender: the ``financed`` annotation of ``_lock_voucher`` when the row has it."""
    financed = getattr(voucher, "financed", None)
    if financed is None:
        financed = FinancedAsset.objects.filter(fingerprint=f"voucher:{voucher.pk}").exists()
    if financed:
        raise Conflict(_("This voucher is pledged to a lender."), code="already_financed")


def _parts(amounts) -> list[Decimal]:
    if not isinstance(amounts, list | tuple):
        raise InvalidInput(
            _("Give the parts as a list of amounts."), code="invalid_amount", fields={"amounts": "list"}
        )
    if len(amounts) < 2:
        raise InvalidInput(
            _("A split makes at least two parts."),
            code="too_few_parts",
            fields={"amounts": str(len(amounts))},
        )
    if len(amounts) > MAX_PARTS:
        raise InvalidInput(
            _("A split makes at most %(n)s parts.") % {"n": MAX_PARTS},
            code="too_many_parts",
            fields={"amounts": str(len(amounts))},
        )
    parts = []
    for i, value in enumerate(amounts):
        field = f"amounts.{i}"
        try:
            part = parse_amount(value, field=field)
        except InvalidInput as exc:
            if exc.code in ("zero_amount", "negative_amount"):
                raise InvalidInput(
                    _("Part %(n)s: every part must be more than zero.") % {"n": i + 1},
                    code="invalid_amount",
                    fields={field: str(value)[:40]},
                ) from None
            if exc.code == "too_many_decimals":
                raise InvalidInput(
                    _("Part %(n)s: at most 2 decimals (fen).") % {"n": i + 1},
                    code="too_many_decimals",
                    fields={field: str(value)[:40]},
                ) from None
            raise InvalidInput(
                _("Part %(n)s is not an amount.") % {"n": i + 1},
                code="invalid_amount",
                fields={field: str(value)[:40]},
            ) from None
        parts.append(part)
    return parts


@transaction.atomic
def split_voucher(actor, voucher_id, *, amounts) -> list[Voucher]:
    """The holder's admins or staff split a held voucher into 2–100 parts that sum to it exactly.

    Each part is more than zero with at most two decimals (400 ``invalid_amount``,
    ``too_many_decimals``; fewer than two 400 ``too_few_parts``), and the parts sum to the voucher to the
    fen (400 ``parts_do_not_sum``). The voucher becomes ``split`` (final) and each part is a new voucher of
    the same issuer, holder and maturity with ``parent`` set. A voucher being transferred or already split
    is 409 ``voucher_not_active``; a matured one 409 ``voucher_matured``."""
    parts = _parts(amounts)
    numbers = _candidate_numbers(len(parts))
    voucher = _lock_voucher(
        actor,
        voucher_id,
        "hold",
        ids={Voucher: len(parts)},
        financed=_financed(_pk(voucher_id)),
        clash=_exists(f"{_q(Voucher)} AS n WHERE n.number IN ({', '.join(['%s'] * len(numbers))})", numbers),
    )
    _require(voucher, VoucherStatus.SPLIT)
    _require_not_matured(voucher)
    _require_not_financed(voucher)
    total = sum(parts, Decimal("0.00"))
    if total != voucher.amount:
        raise InvalidInput(
            _("The parts sum to %(t)s, the voucher is %(v)s.")
            % {"t": f"{total:.2f}", "v": f"{voucher.amount:.2f}"},
            code="parts_do_not_sum",
            fields={"amounts": f"{total:.2f} ≠ {voucher.amount:.2f}"},
        )
    if voucher.clash:  # a number is taken (about never): draw checked ones
        numbers = _new_numbers(len(parts))
    w = Writes(voucher.head)
    _set(w, voucher, status=VoucherStatus.SPLIT)
    now = voucher.updated_at
    ids = voucher.new_ids.get(Voucher) or [None] * len(parts)
    # The parts, their holder rows and the events: one INSERT each, not one per part (bench/finance.py).
    children = w.insert(
        Voucher,
        [
            Voucher(
                id=pk,
                number=number,
                cluster_id=voucher.cluster_id,
                receivable_id=voucher.receivable_id,
                parent=voucher,
                root_id=voucher.root_id or voucher.pk,
                issuer_id=voucher.issuer_id,
                holder_id=voucher.holder_id,
                amount=part,
                currency=voucher.currency,
                maturity_date=voucher.maturity_date,
                issued_at=now,
            )
            for pk, number, part in zip(ids, numbers, parts, strict=True)
        ],
    )
    w.insert(
        VoucherHolder, [VoucherHolder(voucher=child, enterprise_id=voucher.holder_id) for child in children]
    )
    # The parent's event first: a part's chain of custody reads issue → split → split_from → …
    w.insert(
        VoucherEvent,
        [
            _event_row(
                voucher,
                VoucherEventKind.SPLIT,
                actor,
                frm=voucher.holder_id,
                to=voucher.holder_id,
                parts=[{"number": c.number, "amount": f"{c.amount:.2f}"} for c in children],
            )
        ]
        + [
            _event_row(
                child,
                VoucherEventKind.SPLIT_FROM,
                actor,
                frm=voucher.holder_id,
                to=voucher.holder_id,
                parent=voucher.number,
            )
            for child in children
        ],
    )
    w.audit(
        actor,
        "voucher.split",
        voucher,
        cluster_id=voucher.cluster_id,
        enterprise_id=voucher.holder_id,
        before={"status": VoucherStatus.HELD, "amount": voucher.amount},
        after={"status": VoucherStatus.SPLIT, "parts": {c.number: c.amount for c in children}},
    )
    w.send()
    return children


@transaction.atomic
def transfer_voucher(actor, voucher_id, *, to_enterprise) -> VoucherTransfer:
    """The holder's admins or staff offer a held voucher to one of the holder's **own suppliers** (an
    enterprise that sold to it on the platform: 409 ``not_your_supplier``) as payment. The voucher is
    ``transferring`` until the receiver accepts or declines. Unknown receiver 400 ``invalid_enterprise``;
    to oneself 400 ``same_enterprise``; a voucher not held 404 (403 ``not_holder`` if visible); already
    split or being transferred 409 ``voucher_not_active``; matured 409 ``voucher_matured``."""
    try:
        to_id = parse_id(to_enterprise, "to_enterprise", code="invalid_enterprise")
    except InvalidInput:
        raise InvalidInput(
            _("Choose the enterprise to transfer to."),
            code="invalid_enterprise",
            fields={"to_enterprise": str(to_enterprise)[:40]},
        ) from None
    voucher = _lock_voucher(
        actor,
        voucher_id,
        "hold",
        ids={VoucherTransfer: 1},
        financed=_financed(_pk(voucher_id)),
        receiver_ok=_exists(f"{_q(Enterprise)} WHERE id = %s AND kind = %s", [to_id, EnterpriseKind.COMPANY]),
        sells=_exists(
            f"{_q(Order)} AS o WHERE o.buyer_id = {_q(Voucher, 'holder_id')} AND o.supplier_id = %s"
            " AND o.status NOT IN (%s, %s)",
            [to_id, OrderStatus.CREATED, OrderStatus.CANCELLED],
        ),
    )
    _require(voucher, VoucherStatus.TRANSFERRING)
    _require_not_matured(voucher)
    _require_not_financed(voucher)
    if not voucher.receiver_ok:
        raise InvalidInput(
            _("Choose the enterprise to transfer to."),
            code="invalid_enterprise",
            fields={"to_enterprise": str(to_id)},
        )
    if to_id == voucher.holder_id:
        raise InvalidInput(
            _("The voucher is already yours."), code="same_enterprise", fields={"to_enterprise": str(to_id)}
        )
    if not voucher.sells:
        name = Enterprise.objects.filter(pk=to_id).values_list("name", flat=True).first()
        raise Conflict(
            _("A voucher is passed to your own suppliers: %(name)s has not sold to you on the platform.")
            % {"name": name},
            code="not_your_supplier",
            fields={"to_enterprise": str(to_id)},
        )
    w = Writes(voucher.head)
    transfer = VoucherTransfer(
        id=(voucher.new_ids.get(VoucherTransfer) or [None])[0],
        voucher=voucher,
        cluster_id=voucher.cluster_id,
        from_enterprise_id=voucher.holder_id,
        to_enterprise_id=to_id,
        offered_by=actor,
        offered_at=timezone.now(),
    )
    w.insert(VoucherTransfer, [transfer])
    _set(w, voucher, status=VoucherStatus.TRANSFERRING)
    _event(
        w,
        voucher,
        VoucherEventKind.TRANSFER_OFFERED,
        actor,
        frm=voucher.holder_id,
        to=to_id,
        transfer=transfer.pk,
    )
    w.audit(
        actor,
        "voucher.transfer_offered",
        voucher,
        cluster_id=voucher.cluster_id,
        enterprise_id=voucher.holder_id,
        before={"status": VoucherStatus.HELD},
        after={"status": VoucherStatus.TRANSFERRING, "to": to_id, "transfer": transfer.pk},
    )
    w.send()
    return transfer


def _answer(actor, voucher_id, status: str, reason: str = "") -> Voucher:
    """Settle the voucher's pending transfer (``status``: accepted, declined, withdrawn).

    The pending transfer is read by the statement that locks the voucher: on PostgreSQL locked there too,
    after the voucher. That statement's snapshot predates any wait for the voucher's lock; if the transfer
    it saw was settled meanwhile (and perhaps another offered), it finds none although the voucher is
    ``transferring`` — then the voucher is read again, now under its lock, so as it is (the permission
    too: a new offer to another enterprise is not this actor's to accept)."""
    action = "hold" if status == TransferStatus.WITHDRAWN else "receive"
    voucher = _lock_voucher(actor, voucher_id, action, pending=True)
    if voucher.status == VoucherStatus.TRANSFERRING and voucher.pending_id is None:
        voucher = _lock_voucher(actor, voucher_id, action, pending=True)
    if voucher.status != VoucherStatus.TRANSFERRING or voucher.pending_id is None:
        raise Conflict(_("No transfer of this voucher is pending."), code="voucher_not_active")
    _require(voucher, VoucherStatus.HELD)
    w = Writes(voucher.head)
    answer = {"status": status, "reason": reason, "answered_by": actor, "answered_at": timezone.now()}
    w.update(VoucherTransfer, voucher.pending_id, **answer)
    transfer = VoucherTransfer(
        pk=voucher.pending_id, voucher=voucher, to_enterprise_id=voucher.pending_to, **answer
    )
    frm = voucher.holder_id
    if status == TransferStatus.ACCEPTED:
        _hold(w, voucher, transfer.to_enterprise_id)
        _set(w, voucher, status=VoucherStatus.HELD, holder_id=transfer.to_enterprise_id)
    else:
        _set(w, voucher, status=VoucherStatus.HELD)
    kind = {
        TransferStatus.ACCEPTED: VoucherEventKind.TRANSFER_ACCEPTED,
        TransferStatus.DECLINED: VoucherEventKind.TRANSFER_DECLINED,
        TransferStatus.WITHDRAWN: VoucherEventKind.TRANSFER_WITHDRAWN,
    }[status]
    to = transfer.to_enterprise_id
    _event(w, voucher, kind, actor, frm=frm, to=to, transfer=transfer.pk, reason=reason)
    w.audit(
        actor,
        f"voucher.transfer_{status}",
        voucher,
        cluster_id=voucher.cluster_id,
        enterprise_id=frm if status == TransferStatus.WITHDRAWN else transfer.to_enterprise_id,
        before={"status": VoucherStatus.TRANSFERRING, "holder": frm},
        after={"status": VoucherStatus.HELD, "holder": voucher.holder_id, "transfer": transfer.pk},
    )
    w.send()
    return voucher


@transaction.atomic
def accept_voucher_transfer(actor, voucher_id) -> Voucher:
    """The receiver's admins or staff accept the voucher offered to their enterprise: it becomes its
    holder. No transfer pending for the actor's enterprise: 404, or 403 ``not_receiver`` if the voucher is
    visible to it."""
    return _answer(actor, voucher_id, TransferStatus.ACCEPTED)


@transaction.atomic
def decline_voucher_transfer(actor, voucher_id, *, reason="") -> Voucher:
    """The receiver declines: the voucher stays with the holder, ``held`` again. Reason ≤ 500 characters
    (400 ``too_long``)."""
    reason = str(reason or "").strip()
    if len(reason) > 500:
        raise InvalidInput(_("At most 500 characters."), code="too_long", fields={"reason": "500"})
    return _answer(actor, voucher_id, TransferStatus.DECLINED, reason)


@transaction.atomic
def withdraw_voucher_transfer(actor, voucher_id) -> Voucher:
    """The holder's admins or staff withdraw their pending offer before the receiver answers: the voucher
    is ``held`` again. No offer pending 409 ``voucher_not_active``; not the holder 403 / 404."""
    return _answer(actor, voucher_id, TransferStatus.WITHDRAWN)


# ------------------------------------------------------------------------------- no asset financed twice


def fingerprints(asset) -> list[tuple[str, str]]:
    """The fingerprints ``(kind, fingerprint)`` that financing ``asset`` (a voucher or a receivable)
    claims. A voucher part is itself; a receivable is itself and every invoice behind it (by code +
    number: an invoice exists once in the country, whatever order it was recorded on)."""
    if isinstance(asset, Voucher):
        return [(AssetKind.VOUCHER, f"voucher:{asset.pk}")]
    if isinstance(asset, Receivable):
        prints = [(AssetKind.RECEIVABLE, f"receivable:{asset.pk}")]
        for inv in Invoice.objects.filter(order_id=asset.order_id).exclude(status=InvoiceStatus.REJECTED):
            prints.append((AssetKind.INVOICE, f"invoice:{inv.code}:{inv.number}"))
        return prints
    raise TypeError("a voucher or a receivable")


@transaction.atomic
def claim_asset(asset, *, claimed_by: str) -> list[FinancedAsset]:
    """Record that ``asset`` is financed (by ``claimed_by``, the financing's reference). Any fingerprint
    already claimed — by any lender, even at the same instant — is 409 ``already_financed`` and nothing
    is claimed. ``lending.approve_application`` calls it when the maker approves (the claim is released
    if the application is rejected or expires before disbursement)."""
    rows = []
    try:
        with transaction.atomic():
            for kind, fp in fingerprints(asset):
                rows.append(
                    FinancedAsset.objects.create(
                        fingerprint=fp,
                        kind=kind,
                        cluster_id=asset.cluster_id,
                        voucher=asset if isinstance(asset, Voucher) else None,
                        receivable=asset if isinstance(asset, Receivable) else None,
                        invoice=Invoice.objects.filter(code=fp.split(":")[1], number=fp.split(":")[2])
                        .exclude(status=InvoiceStatus.REJECTED)
                        .first()
                        if kind == AssetKind.INVOICE
                        else None,
                        claimed_by=str(claimed_by)[:64],
                    )
                )
    except IntegrityError:
        raise Conflict(_("This asset is already financed."), code="already_financed") from None
    return rows
