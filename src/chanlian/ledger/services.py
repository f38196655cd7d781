"""Every write of the ledger: opening accounts, posting balanced entries, reversing them.

Who may move money is decided by the calling service (trade, finance), which has already checked the
acting user's permission for the business event — an order paid, an escrow released. The ledger's
services therefore take the actor **for the audit trail only** and never check permission themselves;
there is no API that posts an arbitrary entry. What they do enforce is the bookkeeping: every entry
balances, has no zero line and no fraction of a fen, stays inside one cluster and one currency, is
written once and corrected only by a reversing entry.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chanlian.core import audit
from chanlian.core.errors import Conflict, InvalidInput
from chanlian.core.money import CNY, FEN, Money

from .choices import CHART
from .models import Account, JournalEntry, JournalLine

KIND = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
MAX_AMOUNT = Decimal("999999999999999999.99")  # DecimalField(max_digits=20, decimal_places=2)
MAX_KEY = 128


def _text(value, field: str, max_length: int, *, required: bool = False) -> str:
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise InvalidInput(_("%(field)s is required.") % {"field": field}, code=f"{field}_required")
    if len(text) > max_length:
        raise InvalidInput(
            _("%(field)s is too long (at most %(n)d characters).") % {"field": field, "n": max_length},
            code="too_long",
            fields={field: "too long"},
        )
    return text


def clean_idempotency_key(value) -> str:
    """A key a client or a service chose: 1–128 printable ASCII characters, or ``invalid_idempotency_key``."""
    key = str(value) if value is not None else ""
    if not key or len(key) > MAX_KEY or not all(33 <= ord(ch) <= 126 for ch in key):
        raise InvalidInput(
            _("An idempotency key is 1 to 128 printable ASCII characters without spaces."),
            code="invalid_idempotency_key",
        )
    return key


# ------------------------------------------------------------------ accounts


def account_name(cluster, code: str, enterprise=None) -> str:
    owner = enterprise.name if enterprise is not None else cluster.name
    return f"{owner} {CHART[code].name_zh}"


def open_account(cluster, code: str, enterprise=None, *, currency: str = CNY) -> Account:
    """The account ``code`` of ``enterprise`` (or of the cluster itself) in ``cluster``, created on first use.

    Idempotent and race-safe: two concurrent openers meet at the unique constraint and both get the one
    row. Opening an account moves no money, so it is not audited.
    """
    spec = CHART.get(str(code))
    if spec is None:
        raise InvalidInput(_("Unknown ledger account code."), code="unknown_account_code")
    if spec.per_enterprise and enterprise is None:
        raise InvalidInput(_("This account belongs to an enterprise."), code="account_needs_enterprise")
    if not spec.per_enterprise and enterprise is not None:
        raise InvalidInput(_("This account belongs to the cluster itself."), code="cluster_account")
    if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha() and currency.isupper()):
        raise InvalidInput(_("A currency is a 3-letter ISO 4217 code."), code="invalid_currency")
    lookup = {"cluster": cluster, "enterprise": enterprise, "code": spec.code, "currency": currency}
    existing = Account.objects.filter(**lookup).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return Account.objects.create(**lookup, name=account_name(cluster, spec.code, enterprise))
    except IntegrityError:
        return Account.objects.get(**lookup)


# ------------------------------------------------------------------ entries


def _amount(value, account: Account, index: int) -> Decimal:
    field = f"lines[{index}]"
    if isinstance(value, Money):
        if value.currency != account.currency:
            raise InvalidInput(
                _("An amount in %(a)s cannot be posted to an account kept in %(b)s.")
                % {"a": value.currency, "b": account.currency},
                code="currency_mismatch",
                fields={field: value.currency},
            )
        value = value.amount
    if isinstance(value, bool | float) or not isinstance(value, Decimal | int | str):
        raise InvalidInput(
            _("Amounts are Decimals (or integers, or strings), never floats."),
            code="invalid_amount",
            fields={field: repr(value)[:40]},
        )
    try:
        amount = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except (InvalidOperation, ValueError):
        raise InvalidInput(
            _("Not a number."), code="invalid_amount", fields={field: str(value)[:40]}
        ) from None
    if not amount.is_finite():
        raise InvalidInput(_("Not a finite number."), code="invalid_amount", fields={field: str(value)[:40]})
    if amount == 0:
        raise InvalidInput(_("A journal line cannot be zero."), code="zero_line", fields={field: "0"})
    if amount != amount.quantize(FEN):
        raise InvalidInput(
            _("Amounts have at most 2 decimals (fen)."),
            code="too_many_decimals",
            fields={field: str(amount)},
        )
    if abs(amount) > MAX_AMOUNT:
        raise InvalidInput(
            _("The amount is too large."), code="amount_too_large", fields={field: "too large"}
        )
    return amount.quantize(FEN)


def _clean_lines(cluster, lines) -> list[tuple[Account, Decimal]]:
    try:
        items = list(lines or [])
    except TypeError:
        raise InvalidInput(_("Lines are a list of (account, amount) pairs."), code="invalid_line") from None
    if not items:
        raise InvalidInput(_("A journal entry needs lines."), code="empty_entry")
    cleaned = []
    for i, item in enumerate(items):
        try:
            account, value = item
        except (TypeError, ValueError):
            raise InvalidInput(
                _("Lines are a list of (account, amount) pairs."),
                code="invalid_line",
                fields={f"lines[{i}]": "?"},
            ) from None
        if not isinstance(account, Account) or account.pk is None:
            raise InvalidInput(
                _("A line must name a saved ledger account."),
                code="invalid_line",
                fields={f"lines[{i}]": "?"},
            )
        if account.cluster_id != cluster.pk:
            raise InvalidInput(
                _("An entry may only post to accounts of its own cluster."),
                code="foreign_account",
                fields={f"lines[{i}]": str(account.pk)},
            )
        cleaned.append((account, _amount(value, account, i)))
    currencies = {account.currency for account, _amount_ in cleaned}
    if len(currencies) > 1:
        raise InvalidInput(
            _("All lines of an entry are in one currency (%(list)s given).")
            % {"list": ", ".join(sorted(currencies))},
            code="currency_mismatch",
        )
    total = sum((amount for _account, amount in cleaned), Decimal("0"))
    if total != 0:
        raise InvalidInput(
            _("Debits and credits differ by %(diff)s: an entry must balance.") % {"diff": f"{total:.2f}"},
            code="unbalanced_entry",
            fields={"lines": f"{total:.2f}"},
        )
    return cleaned


def _signature(kind: str, pairs) -> tuple:
    return kind, Counter((int(account_id), Decimal(amount).quantize(FEN)) for account_id, amount in pairs)


def _replay(existing: JournalEntry, kind: str, cleaned) -> JournalEntry:
    stored = _signature(existing.kind, existing.lines.values_list("account_id", "amount"))
    asked = _signature(kind, [(a.pk, amount) for a, amount in cleaned])
    if stored != asked:
        raise Conflict(
            _("This idempotency key was already used for a different entry."),
            code="idempotency_key_reused",
        )
    return existing


def _queue_behind_the_audit_chain() -> None:
    """Take this transaction's audit chain head lock first, as ``audit.record`` will later in this
    transaction (the same chain: ``core.audit.lock_head``).

    The writes of one chain queue on that lock anyway; taking it before the entry's own unique key means
    two writers can never hold one lock each and wait for the other's (a caller that audited before
    posting, beside one that posts first on the same chain, would otherwise deadlock on a shared
    idempotency key).
    """
    audit.lock_head()


def _snapshot(entry: JournalEntry, lines: list[JournalLine]) -> dict:
    return {
        "kind": entry.kind,
        "reference": entry.reference,
        "memo": entry.memo,
        "posted_at": entry.posted_at,
        "reverses": entry.reverses_id,
        "lines": [[line.account_id, f"{line.amount:.2f}"] for line in lines],
    }


@transaction.atomic
def post_entry(
    actor,
    *,
    cluster,
    kind: str,
    lines,
    memo: str = "",
    reference: str = "",
    idempotency_key: str | None = None,
    posted_at: datetime | None = None,
) -> JournalEntry:
    """Post one balanced journal entry to ``cluster``'s books and return it.

    ``lines`` are ``(Account, amount)`` pairs, debit > 0 and credit < 0 (amounts as ``Decimal``, int, str
    or ``Money``). Refused (nothing written): ``empty_entry``, ``invalid_line``, ``zero_line``,
    ``invalid_amount``, ``too_many_decimals``, ``foreign_account`` (an account of another cluster),
    ``currency_mismatch``, ``unbalanced_entry``, ``invalid_kind``, ``too_long``. With an
    ``idempotency_key`` a repeat in the same cluster returns the first entry if it had the same kind and
    lines, else 409 ``idempotency_key_reused``. ``actor`` is recorded in the entry and the audit log; the
    caller has checked the permission (module docstring). ``posted_at`` is the time the money moved
    (default now; never in the future).
    """
    kind = str(kind or "").strip()
    if len(kind) > 64 or not KIND.match(kind):
        raise InvalidInput(
            _("An entry kind is dotted lower-case words, e.g. escrow.deposit."), code="invalid_kind"
        )
    memo = _text(memo, "memo", 500)
    reference = _text(reference, "reference", 128)
    key = None if idempotency_key is None else clean_idempotency_key(idempotency_key)
    now = timezone.now()
    if posted_at is None:
        posted_at = now
    elif timezone.is_naive(posted_at) or posted_at > now + timedelta(minutes=1):
        raise InvalidInput(_("An entry is posted at a past, time-zone aware time."), code="invalid_posted_at")
    cleaned = _clean_lines(cluster, lines)

    _queue_behind_the_audit_chain()
    if key is not None:
        existing = JournalEntry.objects.filter(cluster=cluster, idempotency_key=key).first()
        if existing is not None:
            return _replay(existing, kind, cleaned)
    entry = JournalEntry(
        cluster=cluster,
        kind=kind,
        memo=memo,
        reference=reference,
        posted_by=actor if getattr(actor, "pk", None) else None,
        posted_at=posted_at,
        idempotency_key=key,
    )
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError:
        if key is None:
            raise
        return _replay(JournalEntry.objects.get(cluster=cluster, idempotency_key=key), kind, cleaned)
    rows = JournalLine.objects.bulk_create(
        [
            JournalLine(entry=entry, cluster_id=cluster.pk, account=account, amount=amount)
            for account, amount in cleaned
        ]
    )
    audit.record(actor, "ledger.post_entry", entry, cluster_id=cluster.pk, after=_snapshot(entry, rows))
    return entry


@transaction.atomic
def reverse_entry(actor, entry: JournalEntry, memo: str) -> JournalEntry:
    """Post the mirror of ``entry`` (every line negated), which cancels it; ``memo`` says why.

    An entry is reversed at most once (409 ``already_reversed``, also held by a unique constraint under
    concurrency) and a reversal is never itself reversed (409 ``cannot_reverse_a_reversal``: post a new
    entry instead). Like ``post_entry``, the caller has checked the permission.
    """
    memo = _text(memo, "memo", 500, required=True)
    _queue_behind_the_audit_chain()
    original = JournalEntry.objects.select_for_update().get(pk=entry.pk)
    if original.reverses_id is not None:
        raise Conflict(_("A reversal cannot itself be reversed."), code="cannot_reverse_a_reversal")
    if JournalEntry.objects.filter(reverses=original).exists():
        raise Conflict(_("This entry has already been reversed."), code="already_reversed")
    reversal = JournalEntry(
        cluster_id=original.cluster_id,
        kind=original.kind,
        memo=memo,
        reference=original.reference,
        posted_by=actor if getattr(actor, "pk", None) else None,
        posted_at=timezone.now(),
        reverses=original,
    )
    try:
        with transaction.atomic():
            reversal.save()
    except IntegrityError:
        raise Conflict(_("This entry has already been reversed."), code="already_reversed") from None
    rows = JournalLine.objects.bulk_create(
        [
            JournalLine(
                entry=reversal,
                cluster_id=original.cluster_id,
                account_id=line.account_id,
                amount=-line.amount,
            )
            for line in original.lines.order_by("id")
        ]
    )
    audit.record(
        actor,
        "ledger.reverse_entry",
        reversal,
        cluster_id=original.cluster_id,
        after=_snapshot(reversal, rows),
    )
    return reversal
