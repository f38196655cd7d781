"""Money received for orders: the payment providers, the operator's confirmation of a bank transfer, the
import of the supervised account's bank statement (CSV) and matching its lines to orders by reference.

Buyers pay into the cluster's supervised bank account (资金监管账户) with the order's payment reference
(``Order.reference``, "CL" + 8 characters) in the transfer's memo (附言). The money reaches the platform's
books when a provider records it:

* ``ManualTransferProvider`` — the operator saw the transfer and confirms it (``confirm_transfer``);
* ``BankStatementProvider`` — a line of an imported statement names exactly one order of the cluster
  (``import_bank_statement``), or the operator matches an unmatched line by hand (``match_bank_line``).

Either way the same rule applies (``PaymentProvider.receive``): an escrow order in ``contract_signed``
gets ``escrow.deposit`` and becomes ``paid``; an order on payment terms in ``accepted`` gets
``terms.settle`` (the receivable cleared, the supplier paid minus the fee) and becomes ``settled``; the
amount must be exactly the amount due (409 ``amount_mismatch``); an order is paid once per purpose (409
``already_paid``, a unique constraint too); any other state is 409 ``order_not_payable``. A terms order
whose receivable the buyer confirmed into a voucher (issue #5) is not paid here: 409
``receivable_vouchered`` — the voucher is paid at maturity (``finance.lending.pay_voucher``); a statement
line naming such an order stays unmatched with that problem.

Bank statement CSV (docs/orders.md has the full table):

* encoding UTF-8 (with or without BOM) or GB18030 (GBK, GB2312 are subsets); comma-separated, RFC 4180
  quoting; lines before the header row (a bank's title, account number, period) are skipped — the header
  is the first row (within 30) that names a date, a transaction number and an amount column;
* columns, matched by name after trimming, lower-casing and dropping a unit suffix such as "(元)":
  date 交易日期/记账日期/日期/date/transaction date/booking date; transaction number
  交易流水号/流水号/交易序号/transaction id/transaction no/serial no; credit (money in)
  收入金额/贷方发生额/贷方金额/收入/credit/credit amount; debit (money out) 支出金额/借方发生额/借方金额/
  支出/debit/debit amount; or one signed amount 交易金额/金额/amount; optional: counterparty
  对方户名/对方名称/counterparty/counterparty name, its account 对方账号/counterparty account, memo
  摘要/附言/用途/备注/memo/remark/purpose/description (several are joined), currency 币种/currency
  (人民币/RMB/CNY/¥ → CNY); other columns (余额 balance, …) are ignored;
* dates YYYY-MM-DD, YYYYMMDD or YYYY/MM/DD, optionally followed by a time; amounts like ``1,234.50``
  (thousands separators in groups of three, at most 2 decimals, an optional ¥ sign);
* every line after the header must be well-formed: one of credit/debit non-zero, a transaction number
  (unique in the file, ≤ 64 characters), a valid date. Otherwise nothing is imported: 400
  ``malformed_statement`` with ``fields`` naming each bad line (``"line 7": "invalid amount"``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from chanlian.core import audit
from chanlian.core.errors import Conflict, InvalidInput, NotFound
from chanlian.core.money import CNY, parse_amount
from chanlian.core.params import MAX_ID
from chanlian.core.permissions import restrict
from chanlian.registry.models import Cluster
from chanlian.registry.principal import principal_for

from .. import values
from ..choices import (
    SYSTEM,
    BankLineStatus,
    OrderStatus,
    PaymentMethod,
    PaymentPurpose,
    PaymentTerms,
)
from ..models import BankLine, BankStatement, Order, Payment
from . import orders as _orders

__all__ = [
    "BankStatementProvider",
    "ManualTransferProvider",
    "PaymentProvider",
    "amount_due_now",
    "confirm_transfer",
    "import_bank_statement",
    "match_bank_line",
    "provider_for",
]

MAX_STATEMENT_BYTES = 5 * 1024 * 1024
MAX_STATEMENT_LINES = 20000
REFERENCE_RE = re.compile(r"(?<![0-9A-Z])CL[0-9A-HJKMNP-TV-Z]{8}(?![0-9A-Z])")


# ---------------------------------------------------------------- what is due


def payment_purpose(order: Order) -> str:
    return PaymentPurpose.ESCROW if order.payment_terms == PaymentTerms.ESCROW else PaymentPurpose.TERMS


def amount_due_now(order: Order) -> Decimal:
    """What the buyer's transfer must be now: an escrow order's amount once the contract is signed; a
    terms order's accepted amount once accepted; 0 otherwise (nothing due, or already paid)."""
    purpose = payment_purpose(order)
    if purpose == PaymentPurpose.ESCROW:
        due = order.amount if order.status == OrderStatus.CONTRACT_SIGNED else None
    else:
        due = order.accepted_amount if order.status == OrderStatus.ACCEPTED else None
    if not due or Payment.objects.filter(order=order, purpose=purpose).exists():
        return Decimal("0.00")
    return due


# ---------------------------------------------------------------- providers


class PaymentProvider:
    """A way money reaches an order. ``method`` is the ``PaymentMethod`` stored on the payment;
    ``receive`` books it for a **locked** order (the caller checked that the actor operates the
    order's cluster) and returns the ``Payment``."""

    method: str = ""

    def receive(
        self, actor, order: Order, *, amount, bank_reference="", received_on, bank_line=None
    ) -> Payment:
        purpose = payment_purpose(order)
        if Payment.objects.filter(order=order, purpose=purpose).exists():
            raise Conflict(_("This order has already been paid."), code="already_paid")
        payable = (purpose == PaymentPurpose.ESCROW and order.status == OrderStatus.CONTRACT_SIGNED) or (
            purpose == PaymentPurpose.TERMS and order.status == OrderStatus.ACCEPTED
        )
        if not payable:
            raise Conflict(
                _("An order that is %(status)s is not awaiting a payment.")
                % {"status": OrderStatus(order.status).label},
                code="order_not_payable",
            )
        if purpose == PaymentPurpose.TERMS and _vouchered(order):
            raise Conflict(
                _(
                    "The buyer confirmed this order's receivable into a voucher: what is paid now is the "
                    "voucher, at maturity, to its holders (pay the voucher, not the order)."
                ),
                code="receivable_vouchered",
            )
        due = amount_due_now(order)
        if amount != due:
            raise Conflict(
                _("The amount received (%(got)s) is not the amount due (%(due)s).")
                % {"got": f"{amount:.2f}", "due": f"{due:.2f}"},
                code="amount_mismatch",
            )
        if purpose == PaymentPurpose.ESCROW:
            entry = _orders._post(
                actor,
                order,
                "escrow.deposit",
                "deposit",
                [("bank_clearing", None, amount), ("escrow", order.buyer, -amount)],
                f"买方汇入监管资金 {order.reference} {bank_reference}".strip(),
            )
        else:
            fee = order.fee_amount if order.fee_amount is not None else _orders.fee_for(order, amount)
            entry = _orders._post(
                actor,
                order,
                "terms.settle",
                "settle",
                [
                    ("bank_clearing", None, amount),
                    ("receivable", order.supplier, amount),
                    ("payable", order.buyer, -amount),
                    ("cash", order.supplier, -(amount - fee)),
                    ("fee_income", None, -fee),
                ],
                f"账期货款到账，结算 {order.reference} {bank_reference}".strip(),
            )
        payment = _orders.record_payment(
            actor,
            order,
            purpose=purpose,
            method=self.method,
            amount=amount,
            received_on=received_on,
            entry=entry,
            bank_reference=bank_reference,
            bank_line=bank_line,
        )
        extra = {"enterprise_id": order.buyer_id, "payment": payment.pk}
        if purpose == PaymentPurpose.ESCROW:
            _orders.move_order(actor, order, OrderStatus.PAID, SYSTEM, **extra)
        else:
            _orders.move_order(actor, order, OrderStatus.SETTLED, SYSTEM, **extra)
            _orders.close_if_complete(actor, order)
        return payment


def _vouchered(order: Order) -> bool:
    """The order's receivable was confirmed (确权) into a voucher (issue #5): its money now goes to the
    voucher's holders through ``finance.lending.pay_voucher``, never straight to the supplier."""
    from chanlian.finance.models import Voucher

    return Voucher.objects.filter(receivable__order_id=order.pk).exists()


class ManualTransferProvider(PaymentProvider):
    """The operator confirms a transfer it saw on the supervised account."""

    method = PaymentMethod.MANUAL_TRANSFER


class BankStatementProvider(PaymentProvider):
    """A line of an imported bank statement."""

    method = PaymentMethod.BANK_STATEMENT


PROVIDERS = {p.method: p() for p in (ManualTransferProvider, BankStatementProvider)}


def provider_for(method: str) -> PaymentProvider:
    return PROVIDERS[method]


def _clean_reference(value) -> str:
    return values.text(value, "bank_reference", max_length=64)


# ---------------------------------------------------------------- the operator's confirmation


@transaction.atomic
def confirm_transfer(actor, order_id, *, amount, bank_reference, received_on) -> Payment:
    """The operator of the order's cluster confirms the buyer's transfer: ``amount`` (exactly the amount
    due, 409 ``amount_mismatch``), the bank's ``bank_reference`` and ``received_on`` (not in the future,
    400 ``received_on_in_future``). See the module docstring for what it books; a second payment is 409
    ``already_paid``, another state 409 ``order_not_payable``. Concurrent confirmations queue on the
    order's row lock: one payment, one entry."""
    money = parse_amount(amount, field="amount")
    reference = _clean_reference(bank_reference)
    day = _orders._past_or_today(received_on, "received_on", "received_on_in_future")
    order = _orders.lock_order(actor, _orders._visible_order(actor, order_id).pk, "operate")
    return PROVIDERS[PaymentMethod.MANUAL_TRANSFER].receive(
        actor, order, amount=money, bank_reference=reference, received_on=day
    )


# ---------------------------------------------------------------- bank statements: parsing


_COLUMNS = {
    "date": (
        "交易日期",
        "记账日期",
        "入账日期",
        "日期",
        "date",
        "transactiondate",
        "bookingdate",
        "valuedate",
    ),
    "transaction_id": (
        "交易流水号",
        "流水号",
        "交易序号",
        "交易编号",
        "transactionid",
        "transactionno",
        "transactionnumber",
        "serialno",
        "serialnumber",
    ),
    "credit": ("收入金额", "贷方发生额", "贷方金额", "收入", "贷方", "credit", "creditamount", "income"),
    "debit": ("支出金额", "借方发生额", "借方金额", "支出", "借方", "debit", "debitamount", "expense"),
    "amount": ("交易金额", "金额", "amount"),
    "counterparty_name": (
        "对方户名",
        "对方名称",
        "对方账户名",
        "counterparty",
        "counterpartyname",
        "payername",
    ),
    "counterparty_account": ("对方账号", "对方账户", "counterpartyaccount", "payeraccount"),
    "memo": (
        "摘要",
        "附言",
        "用途",
        "备注",
        "memo",
        "remark",
        "remarks",
        "purpose",
        "description",
        "narrative",
    ),
    "currency": ("币种", "货币", "currency"),
}
_ALIASES = {alias: key for key, names in _COLUMNS.items() for alias in names}
_UNIT = re.compile(r"[（(][^）)]*[）)]$")
_AMOUNT = re.compile(r"^-?(\d{1,3}(,\d{3})+|\d+)(\.\d{1,2})?$")
_DATE = re.compile(r"^(\d{4})(?:([-/])(\d{1,2})\2(\d{1,2})|(\d{2})(\d{2}))(?:[ T]\d{1,2}:\d{2}(:\d{2})?)?$")
_CURRENCIES = {"人民币": CNY, "RMB": CNY, "CNY": CNY, "¥": CNY, "￥": CNY, "": CNY}


def _header_key(cell: str) -> str:
    name = _UNIT.sub("", cell.strip().lstrip("\ufeff").strip()).strip()
    return name.lower().replace(" ", "").replace("_", "")


def _header(row: list[str]) -> dict[str, list[int]] | None:
    found: dict[str, list[int]] = {}
    for i, cell in enumerate(row):
        key = _ALIASES.get(_header_key(cell))
        if key is not None:
            found.setdefault(key, []).append(i)
    has_amount = "amount" in found or "credit" in found or "debit" in found
    if "date" in found and "transaction_id" in found and has_amount:
        return found
    return None


def _decode(data: bytes) -> tuple[str, str]:
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        raise InvalidInput(
            _("The statement is neither UTF-8 nor GB18030 text."),
            code="malformed_statement",
            fields={"file": "encoding"},
        ) from None


def _money(cell: str) -> Decimal | None:
    """A cell's amount (empty → None); raises ValueError for what is not an amount."""
    text = cell.strip().replace("¥", "").replace("￥", "").replace(" ", "")
    if text in ("", "-", "--"):
        return None
    if not _AMOUNT.match(text):
        raise ValueError("invalid amount")
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise ValueError("invalid amount") from None


def _day(cell: str) -> date:
    m = _DATE.match(cell.strip())
    if not m:
        raise ValueError("invalid date")
    year = int(m.group(1))
    month, day = (m.group(3), m.group(4)) if m.group(2) else (m.group(5), m.group(6))
    try:
        return date(year, int(month), int(day))
    except ValueError:
        raise ValueError("invalid date") from None


@dataclass
class ParsedLine:
    line_no: int
    transaction_id: str
    booked_on: date
    amount: Decimal
    currency: str
    counterparty_name: str
    counterparty_account: str
    memo: str


def _clean_cell(value: str) -> str:
    # Spreadsheet exports guard long numbers with a leading tab or ="…"; neither is part of the value.
    text = value.strip()
    if text.startswith('="') and text.endswith('"'):
        text = text[2:-1]
    return text.strip()


def parse_statement(data: bytes) -> tuple[str, list[ParsedLine]]:
    """The encoding and the lines of a statement file, or 400 ``malformed_statement`` naming every bad
    line (see the module docstring for the format)."""
    if len(data) > MAX_STATEMENT_BYTES:
        raise InvalidInput(
            _("The statement is too large (at most 5 MB)."),
            code="malformed_statement",
            fields={"file": "too large"},
        )
    text, encoding = _decode(data)
    if "\x00" in text:
        raise InvalidInput(
            _("The statement is not a text file."), code="malformed_statement", fields={"file": "binary"}
        )
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header = None
    problems: dict[str, str] = {}
    lines: list[ParsedLine] = []
    seen: dict[str, int] = {}
    width = 0
    try:
        for row in reader:
            line_no = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = _header(row)
                width = len(row)
                if header is None and line_no > 30:
                    break
                continue
            if len(lines) + len(problems) >= MAX_STATEMENT_LINES:
                problems["file"] = "too many lines"
                break
            label = f"line {line_no}"
            if len(row) != width:
                problems[label] = f"expected {width} columns, found {len(row)}"
                continue
            try:
                lines.append(_parse_row(header, [_clean_cell(c) for c in row], line_no, seen))
            except ValueError as exc:
                problems[label] = str(exc)
    except csv.Error as exc:
        problems[f"line {reader.line_num}"] = f"unreadable CSV ({exc})"
    if header is None:
        raise InvalidInput(
            _(
                "No header row found: a statement needs a date, a transaction number and an amount column "
                "(交易日期, 交易流水号, 收入金额/支出金额)."
            ),
            code="malformed_statement",
            fields={"header": "missing"},
        )
    if not lines and not problems:
        problems["file"] = "no lines"
    if problems:
        raise InvalidInput(
            _("The statement has malformed lines; nothing was imported."),
            code="malformed_statement",
            fields=dict(list(problems.items())[:100]),
        )
    return encoding, lines


def _first(header, row, key) -> str:
    cols = header.get(key) or []
    return row[cols[0]] if cols else ""


def _parse_row(header, row, line_no, seen) -> ParsedLine:
    txn = _first(header, row, "transaction_id")
    if not txn:
        raise ValueError("missing transaction number")
    if len(txn) > 64:
        raise ValueError("transaction number longer than 64 characters")
    if txn in seen:
        raise ValueError(f"transaction number repeats line {seen[txn]}")
    seen[txn] = line_no
    booked = _day(_first(header, row, "date"))
    if "amount" in header and not ("credit" in header or "debit" in header):
        amount = _money(_first(header, row, "amount"))
        if amount is None or amount == 0:
            raise ValueError("missing amount")
    else:
        credit = _money(_first(header, row, "credit")) or Decimal("0")
        debit = _money(_first(header, row, "debit")) or Decimal("0")
        if credit < 0 or debit < 0:
            raise ValueError("negative amount in a credit or debit column")
        if credit and debit:
            raise ValueError("both credit and debit amounts")
        if not credit and not debit:
            raise ValueError("missing amount")
        amount = credit if credit else -debit
    if abs(amount) >= values.MAX_AMOUNT:
        raise ValueError("amount too large")
    raw_currency = _first(header, row, "currency").strip()
    currency = _CURRENCIES.get(raw_currency.upper(), _CURRENCIES.get(raw_currency))
    if currency is None:
        if not (len(raw_currency) == 3 and raw_currency.isascii() and raw_currency.isalpha()):
            raise ValueError("unknown currency")
        currency = raw_currency.upper()
    memo = " ".join(row[i] for i in header.get("memo", []) if row[i])
    name = _first(header, row, "counterparty_name")
    account = _first(header, row, "counterparty_account")
    if len(memo) > 500 or len(name) > 200 or len(account) > 64:
        raise ValueError("a text column is too long")
    return ParsedLine(line_no, txn, booked, amount.quantize(Decimal("0.01")), currency, name, account, memo)


# ---------------------------------------------------------------- bank statements: import and matching


def _operated_cluster(actor, cluster_id) -> Cluster:
    text = str(cluster_id).strip() if cluster_id is not None and not isinstance(cluster_id, bool) else ""
    if not text.isdigit() or not 0 < int(text) <= MAX_ID or not principal_for(actor).operates(int(text)):
        raise NotFound()
    cluster = Cluster.objects.filter(pk=int(text)).first()
    if cluster is None:
        raise NotFound()
    return cluster


def references_in(memo: str) -> list[str]:
    """The distinct order references a memo names (case-insensitive), in order of appearance."""
    found = REFERENCE_RE.findall(memo.upper())
    return list(dict.fromkeys(found))


def _match(actor, line: BankLine) -> None:
    """Pay the one order ``line``'s memo names, or leave the line ``unmatched`` with its problem code."""
    candidates = references_in(line.memo)
    if not candidates:
        line.problem = "no_reference"
        return
    # Only references of this cluster's orders count: a word of a memo that merely looks like one
    # ("CLEARANCES") or another cluster's reference names no order here.
    found = list(Order.objects.filter(cluster_id=line.cluster_id, reference__in=candidates)[:2])
    if len(found) > 1:
        line.problem = "several_references"
        return
    if not found:
        line.problem = "unknown_reference"
        return
    order = found[0]
    order = Order.objects.select_for_update().get(pk=order.pk)
    if line.currency != order.currency:
        line.problem = "amount_mismatch"
        return
    try:
        with transaction.atomic():
            PROVIDERS[PaymentMethod.BANK_STATEMENT].receive(
                actor,
                order,
                amount=line.amount,
                bank_reference=line.transaction_id,
                received_on=line.booked_on,
                bank_line=line,
            )
    except Conflict as exc:
        if exc.code not in ("amount_mismatch", "order_not_payable", "already_paid", "receivable_vouchered"):
            raise
        line.problem = exc.code
        return
    line.status = BankLineStatus.MATCHED
    line.order = order
    line.problem = ""


@transaction.atomic
def import_bank_statement(actor, cluster_id, *, filename, data: bytes) -> BankStatement:
    """The cluster's operator uploads the supervised account's statement (CSV, module docstring). A
    malformed file is refused whole (400 ``malformed_statement``, ``fields`` names each bad line); the same
    file twice is 409 ``statement_already_imported``; a line whose bank transaction number was imported
    before is skipped. Each new incoming line whose memo names exactly one order reference of this cluster
    is paid like ``confirm_transfer``; any other incoming line stays ``unmatched`` with its ``problem``
    (``no_reference``, ``several_references``, ``unknown_reference``, ``amount_mismatch``,
    ``order_not_payable``, ``already_paid``); outgoing lines are kept as ``outgoing``."""
    cluster = _operated_cluster(actor, cluster_id)
    name = values.text(filename, "filename", max_length=200) or "statement.csv"
    if not isinstance(data, bytes | bytearray):
        raise InvalidInput(
            _("Upload the statement file."), code="malformed_statement", fields={"file": "missing"}
        )
    data = bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    duplicate = Conflict(_("This statement file was already imported."), code="statement_already_imported")
    if BankStatement.objects.filter(cluster=cluster, sha256=digest).exists():
        raise duplicate
    encoding, parsed = parse_statement(data)
    # Two uploads of one file queue on the cluster's row; the second then sees the first's statement.
    Cluster.objects.select_for_update().filter(pk=cluster.pk).values_list("pk").first()
    if BankStatement.objects.filter(cluster=cluster, sha256=digest).exists():
        raise duplicate
    statement = BankStatement.objects.create(
        cluster=cluster, filename=name, sha256=digest, encoding=encoding, uploaded_by=actor
    )
    known = set(
        BankLine.objects.filter(
            cluster=cluster, transaction_id__in=[p.transaction_id for p in parsed]
        ).values_list("transaction_id", flat=True)
    )
    fresh = [p for p in parsed if p.transaction_id not in known]
    # Lock the orders the lines name in id order, so two imports never wait on each other crosswise.
    named = {ref for p in fresh if p.amount > 0 for ref in references_in(p.memo)}
    list(
        Order.objects.select_for_update()
        .filter(cluster=cluster, reference__in=named)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    matched = 0
    for p in fresh:
        line = BankLine.objects.create(
            statement=statement,
            cluster=cluster,
            line_no=p.line_no,
            transaction_id=p.transaction_id,
            booked_on=p.booked_on,
            amount=p.amount,
            currency=p.currency,
            counterparty_name=p.counterparty_name,
            counterparty_account=p.counterparty_account,
            memo=p.memo,
            status=BankLineStatus.OUTGOING if p.amount < 0 else BankLineStatus.UNMATCHED,
        )
        if p.amount > 0:
            _match(actor, line)
            line.save(update_fields=["status", "order", "problem"])
            matched += line.status == BankLineStatus.MATCHED
    statement.line_count = len(fresh)
    statement.matched_count = matched
    statement.save(update_fields=["line_count", "matched_count"])
    audit.record(
        actor,
        "bank_statement.import",
        statement,
        cluster_id=cluster.pk,
        enterprise_id=cluster.operator_id,
        after={
            "filename": name,
            "sha256": digest,
            "encoding": encoding,
            "lines": len(fresh),
            "skipped": len(parsed) - len(fresh),
            "matched": matched,
        },
    )
    return statement


@transaction.atomic
def match_bank_line(actor, line_id, order_id) -> Payment:
    """The operator matches an ``unmatched`` incoming line (409 ``line_not_unmatched`` otherwise) to an
    order of the same cluster by hand; the rules of ``confirm_transfer`` apply with the line's amount,
    transaction number and date."""
    text = str(line_id).strip() if line_id is not None and not isinstance(line_id, bool) else ""
    if not text.isdigit() or not 0 < int(text) <= MAX_ID:
        raise NotFound()
    line = restrict(BankLine.objects.select_for_update(), actor, "operate").filter(pk=int(text)).first()
    if line is None:
        raise NotFound()
    order = _orders.lock_order(actor, _orders._visible_order(actor, order_id).pk, "operate")
    if order.cluster_id != line.cluster_id:
        raise NotFound()
    if line.status != BankLineStatus.UNMATCHED:
        raise Conflict(_("Only an unmatched incoming line can be matched."), code="line_not_unmatched")
    if line.currency != order.currency:
        raise Conflict(_("The line is in another currency than the order."), code="amount_mismatch")
    payment = PROVIDERS[PaymentMethod.BANK_STATEMENT].receive(
        actor,
        order,
        amount=line.amount,
        bank_reference=line.transaction_id,
        received_on=line.booked_on,
        bank_line=line,
    )
    previous = line.problem
    line.status = BankLineStatus.MATCHED
    line.order = order
    line.problem = ""
    line.save(update_fields=["status", "order", "problem"])
    BankStatement.objects.filter(pk=line.statement_id).update(matched_count=F("matched_count") + 1)
    audit.record(
        actor,
        "bank_line.match",
        line,
        cluster_id=line.cluster_id,
        enterprise_id=order.cluster.operator_id,
        before={"status": BankLineStatus.UNMATCHED, "problem": previous},
        after={"status": BankLineStatus.MATCHED, "order": order.pk, "payment": payment.pk},
    )
    return payment
