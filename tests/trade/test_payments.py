"""Payments: the operator's confirmation of a transfer, bank statement CSV import and matching."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from chanlian.trade import selectors, services
from chanlian.trade.models import BankLine, BankStatement, Order, Payment
from tests.trade.order_steps import bal, drive, listing_order
from tests.trade.test_orders import books, counts, expect, refused

pytestmark = pytest.mark.django_db

D = Decimal
TODAY = timezone.localdate


def confirm(world, order, amount=None, user="operator", **kw):
    data = {"bank_reference": "ICBC20261201001", "received_on": TODAY(), **kw}
    return services.confirm_transfer(world.users[user], order.pk, amount=amount or order.amount, **data)


# ---------------------------------------------------------------- confirm_transfer


def test_confirm_transfer_pays_an_escrow_order(world):
    order = drive(world, listing_order(world, quantity="200"), "contract_signed")
    payment = confirm(world, order, "36000.00", received_on=str(TODAY() - timedelta(days=1)))
    order.refresh_from_db()
    assert order.status == "paid"
    assert (payment.method, payment.purpose, payment.amount, payment.bank_reference) == (
        "manual_transfer",
        "escrow",
        D("36000"),
        "ICBC20261201001",
    )
    assert payment.received_on == TODAY() - timedelta(days=1)
    assert payment.entry.kind == "escrow.deposit" and payment.entry.reference == f"order:{order.pk}"
    assert books(order) == expect(buyer_escrow="36000", bank_clearing="36000")


def test_confirm_transfer_settles_a_terms_order(world):
    order = drive(world, listing_order(world, quantity="200", payment_terms="terms_90"), "accepted")
    payment = confirm(world, order, "36000")
    order.refresh_from_db()
    assert order.status == "settled" and payment.purpose == "terms"
    assert payment.entry.kind == "terms.settle"
    assert payment.entry.idempotency_key == f"order:{order.pk}:settle"
    assert books(order) == expect(supplier_cash="35820", fee_income="180", bank_clearing="36000")


def test_confirm_transfer_refusals(world):
    order = drive(world, listing_order(world, quantity="200"), "confirmed")
    refused("order_not_payable", confirm, world, order)
    order = drive(world, order, "contract_signed")
    refused("amount_mismatch", confirm, world, order, "35999.99")
    refused("amount_mismatch", confirm, world, order, "36000.01")
    refused("invalid_amount", confirm, world, order, "abc")
    refused("zero_amount", confirm, world, order, "0")
    refused("received_on_in_future", confirm, world, order, received_on=TODAY() + timedelta(days=1))
    refused("invalid_date", confirm, world, order, received_on="yesterday")
    refused("too_long", confirm, world, order, bank_reference="x" * 65)
    refused("permission_denied", confirm, world, order, user="buyer")
    refused("permission_denied", confirm, world, order, user="supplier")
    refused("not_found", confirm, world, order, user="steel_operator")
    refused("not_found", confirm, world, order, user="outsider")
    refused("not_found", confirm, world, order, user="nobody")
    confirm(world, order)
    refused("already_paid", confirm, world, Order.objects.get(pk=order.pk))
    assert Payment.objects.filter(order=order).count() == 1


# ---------------------------------------------------------------- bank statements

HEADER_ZH = "交易日期,交易流水号,收入金额,支出金额,对方户名,对方账号,摘要,币种,余额\n"
HEADER_EN = "Date,Transaction ID,Credit,Debit,Counterparty Name,Counterparty Account,Memo,Currency\n"


def csv_zh(*rows, preamble="") -> bytes:
    return (preamble + HEADER_ZH + "".join(r + "\n" for r in rows)).encode("utf-8")


def import_(world, data, user="operator", filename="statement.csv"):
    return services.import_bank_statement(
        world.users[user], world.clusters["tea"].pk, filename=filename, data=data
    )


def _order_at(world, status, **kw):
    return drive(world, listing_order(world, **kw), status)


def test_statement_matches_and_explains_every_line(world):
    escrow = _order_at(world, "contract_signed", quantity="200")
    terms = _order_at(world, "accepted", quantity="100", payment_terms="terms_30")
    early = _order_at(world, "confirmed", quantity="100")
    other = _order_at(world, "contract_signed", quantity="150")
    paid = _order_at(world, "paid", quantity="100")
    ref = lambda o: Order.objects.get(pk=o.pk).reference  # noqa: E731
    data = csv_zh(
        f'2026-11-28,T001,"36,000.00",,上海茶商贸易有限公司,6222000011112222,货款 {ref(escrow)},人民币,1',
        f"20261128,T002,18000,,上海茶商贸易有限公司,6222000011112222,{ref(terms).lower()} 账期货款,CNY,2",
        "2026/11/29,T003,500.00,,某公司,1,货款,人民币,3",
        "2026-11-29,T004,500.00,,某公司,1,付 CLZZZZZZZZ,人民币,4",
        f"2026-11-29,T005,100.00,,上海茶商,1,{ref(other)},人民币,5",
        f"2026-11-29,T006,18000.00,,上海茶商,1,{ref(early)},人民币,6",
        f"2026-11-29,T007,18000.00,,上海茶商,1,{ref(paid)},人民币,7",
        f"2026-11-29,T008,100.00,,上海茶商,1,{ref(other)} {ref(early)},人民币,8",
        "2026-11-30,T009,,88.50,中国工商银行,,手续费,人民币,9",
    )
    statement = import_(world, data)
    assert statement.encoding == "utf-8" and statement.line_count == 9 and statement.matched_count == 2
    lines = {line.transaction_id: line for line in BankLine.objects.filter(statement=statement)}
    assert (lines["T001"].status, lines["T001"].order_id, lines["T001"].line_no) == ("matched", escrow.pk, 2)
    assert lines["T001"].amount == D("36000") and lines["T001"].counterparty_account == "6222000011112222"
    assert (lines["T002"].status, lines["T002"].order_id) == ("matched", terms.pk)
    problems = {k: (v.status, v.problem) for k, v in lines.items() if k not in ("T001", "T002")}
    assert problems == {
        "T003": ("unmatched", "no_reference"),
        "T004": ("unmatched", "unknown_reference"),
        "T005": ("unmatched", "amount_mismatch"),
        "T006": ("unmatched", "order_not_payable"),
        "T007": ("unmatched", "already_paid"),
        "T008": ("unmatched", "several_references"),
        "T009": ("outgoing", ""),
    }
    assert lines["T009"].amount == D("-88.50")
    assert Order.objects.get(pk=escrow.pk).status == "paid"
    assert Order.objects.get(pk=terms.pk).status in ("settled", "closed")
    payment = Payment.objects.get(bank_line=lines["T001"])
    assert (payment.method, payment.bank_reference, payment.received_on.isoformat()) == (
        "bank_statement",
        "T001",
        "2026-11-28",
    )
    assert books(escrow)["bank_clearing"] == D("36000") + D("18000") + D("18000")  # + the earlier paid one
    # the operator matches the unmatched line by hand once the order is payable
    assert Order.objects.get(pk=other.pk).status == "contract_signed"
    refused("amount_mismatch", services.match_bank_line, world.users["operator"], lines["T005"].pk, other.pk)
    refused(
        "line_not_unmatched", services.match_bank_line, world.users["operator"], lines["T009"].pk, other.pk
    )
    refused(
        "line_not_unmatched", services.match_bank_line, world.users["operator"], lines["T001"].pk, other.pk
    )
    refused("not_found", services.match_bank_line, world.users["buyer"], lines["T003"].pk, other.pk)
    refused("not_found", services.match_bank_line, world.users["steel_operator"], lines["T003"].pk, other.pk)
    # a payment of the right amount matched by hand
    right = _order_at(world, "contract_signed", quantity="100")
    statement2 = import_(world, csv_zh("2026-11-30,T010,18000.00,,上海茶商,1,货款（未写附言）,人民币,10"))
    line = BankLine.objects.get(statement=statement2)
    assert line.problem == "no_reference"
    payment = services.match_bank_line(world.users["operator"], line.pk, right.pk)
    line.refresh_from_db()
    assert (line.status, line.order_id, line.problem) == ("matched", right.pk, "")
    assert payment.bank_line_id == line.pk and Order.objects.get(pk=right.pk).status == "paid"
    assert BankStatement.objects.get(pk=statement2.pk).matched_count == 1
    unmatched = selectors.bank_lines(world.users["operator"], world.clusters["tea"], status="unmatched")
    assert sorted(unmatched.values_list("transaction_id", flat=True)) == [
        "T003",
        "T004",
        "T005",
        "T006",
        "T007",
        "T008",
    ]


def test_only_this_clusters_references_count(world):
    order = _order_at(world, "contract_signed", quantity="200")
    statement = import_(
        world,
        csv_zh(
            f"2026-11-28,W1,36000.00,,买方,1,CLEARANCES {order.reference} CLZZZZZZZZ,人民币,1",
            "2026-11-28,W2,1.00,,买方,1,CLEARANCES,人民币,2",
        ),
    )
    lines = {li.transaction_id: li for li in BankLine.objects.filter(statement=statement)}
    assert (lines["W1"].status, lines["W1"].order_id) == ("matched", order.pk)
    assert (lines["W2"].status, lines["W2"].problem) == ("unmatched", "unknown_reference")


def test_statement_english_headers_signed_amount_and_preamble(world):
    order = _order_at(world, "contract_signed", quantity="200")
    text = (
        "Account,6222 0000 1111\nPeriod,2026-11-01 to 2026-11-30\n\n"
        "Booking Date,Transaction No,Amount (CNY),Payer Name,Remarks,Purpose\n"
        f"2026-11-30 10:22:01,X1,36000.00,Shanghai Tea,payment,{order.reference}\n"
        "2026-11-30,X2,-12.00,Bank,charges,\n"
    )
    statement = import_(world, text.encode("utf-8-sig"))
    lines = list(BankLine.objects.filter(statement=statement).order_by("line_no"))
    assert [(li.transaction_id, li.status, li.line_no) for li in lines] == [
        ("X1", "matched", 5),
        ("X2", "outgoing", 6),
    ]
    assert lines[0].memo == f"payment {order.reference}" and lines[0].counterparty_name == "Shanghai Tea"


def test_statement_in_gb18030(world):
    order = _order_at(world, "contract_signed", quantity="200")
    text = (
        "中国工商银行 账户明细\n"
        "记账日期,流水号,贷方发生额,借方发生额,对方户名,附言,用途\n"
        f'2026/11/30,G1,"36,000.00",,上海茶商贸易有限公司,{order.reference},货款\n'
    )
    statement = import_(world, text.encode("gb18030"), filename="工行明细.csv")
    assert statement.encoding == "gb18030" and statement.filename == "工行明细.csv"
    line = BankLine.objects.get(statement=statement)
    assert line.counterparty_name == "上海茶商贸易有限公司" and line.memo == f"{order.reference} 货款"
    assert line.status == "matched"


def test_malformed_statement_imports_nothing_and_names_the_lines(world):
    order = _order_at(world, "contract_signed", quantity="200")
    data = csv_zh(
        f"2026-11-28,T1,36000.00,,买方,1,{order.reference},人民币,1",
        "2026-13-01,T2,1.00,,买方,1,x,人民币,2",
        "2026-11-28,T3,1.2.3,,买方,1,x,人民币,3",
        "2026-11-28,,1.00,,买方,1,x,人民币,4",
        "2026-11-28,T5,,,买方,1,x,人民币,5",
        "2026-11-28,T6,1.00,2.00,买方,1,x,人民币,6",
        "2026-11-28,T7,1.00",
        "2026-11-28,T1,5.00,,买方,1,x,人民币,8",
        "2026-11-28,T9,1.001,,买方,1,x,人民币,9",
        '2026-11-28,T10,"1,00.00",,买方,1,x,人民币,10',
        "2026-11-28,T11,1.00,,买方,1,x,日元,11",
    )
    error = refused("malformed_statement", import_, world, data)
    assert set(error.fields) == {f"line {n}" for n in range(3, 13)}
    assert error.fields["line 3"] == "invalid date"
    assert error.fields["line 4"] == "invalid amount"
    assert error.fields["line 5"] == "missing transaction number"
    assert error.fields["line 6"] == "missing amount"
    assert error.fields["line 7"] == "both credit and debit amounts"
    assert error.fields["line 8"].startswith("expected 9 columns")
    assert error.fields["line 9"] == "transaction number repeats line 2"
    assert error.fields["line 12"] == "unknown currency"
    assert BankStatement.objects.count() == 0 and BankLine.objects.count() == 0
    assert Order.objects.get(pk=order.pk).status == "contract_signed"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"", "header"),
        (b"just,some,columns\n1,2,3\n", "header"),
        (HEADER_ZH.encode(), "file"),
        (b"\xff\xfe\x00\x00garbage\x81", "file"),
        ('交易日期,交易流水号,收入金额\n2026-11-01,"T1,5\n'.encode(), "line 2"),
    ],
)
def test_unreadable_statements(world, data, field):
    error = refused("malformed_statement", import_, world, data)
    assert field in error.fields


def test_same_file_twice_and_reimported_transactions(world):
    first = _order_at(world, "contract_signed", quantity="200")
    data = csv_zh(f"2026-11-28,T1,36000.00,,买方,1,{first.reference},人民币,1")
    import_(world, data)
    refused("statement_already_imported", import_, world, data)
    # the next day's export repeats T1 and adds T2: T1 is skipped, T2 is booked
    second = _order_at(world, "contract_signed", quantity="100")
    statement = import_(
        world,
        csv_zh(
            f"2026-11-28,T1,36000.00,,买方,1,{first.reference},人民币,1",
            f"2026-11-29,T2,18000.00,,买方,1,{second.reference},人民币,2",
        ),
    )
    assert statement.line_count == 1 and statement.matched_count == 1
    assert list(BankLine.objects.filter(statement=statement).values_list("transaction_id", flat=True)) == [
        "T2"
    ]
    assert Payment.objects.filter(order=first).count() == 1
    assert bal(first, "bank_clearing") == D("54000")


def test_statement_permissions(world):
    data = csv_zh("2026-11-28,T1,1.00,,买方,1,x,人民币,1")
    for user in ("buyer", "supplier", "steel_operator", "outsider", "nobody", "gov"):
        refused("not_found", import_, world, data, user=user)
    refused(
        "not_found", services.import_bank_statement, world.users["operator"], 999999, filename="a", data=data
    )
    statement = import_(world, data)
    assert selectors.bank_statements(world.users["operator"], world.clusters["tea"]).get() == statement
    assert not selectors.bank_statements(world.users["buyer"], world.clusters["tea"]).exists()
    assert not selectors.bank_lines(world.users["steel_operator"], world.clusters["tea"]).exists()


def test_amounts_due_in_the_payment_desk(world):
    escrow = _order_at(world, "contract_signed", quantity="200")
    terms = _order_at(world, "accepted", quantity="100", payment_terms="terms_30")
    _order_at(world, "confirmed", quantity="100")
    _order_at(world, "paid", quantity="100")
    desk = selectors.payment_desk(world.users["operator"], world.clusters["tea"])
    assert {(r.order_id, r.amount_due, r.status) for r in desk} == {
        (escrow.pk, D("36000"), "contract_signed"),
        (terms.pk, D("18000"), "accepted"),
    }
    row = next(r for r in desk if r.order_id == terms.pk)
    assert row.reference == terms.reference and row.buyer == "上海茶商贸易有限公司"
    assert row.due_date == TODAY() + timedelta(days=30)
    for user in ("buyer", "supplier", "steel_operator", "outsider"):
        with pytest.raises(Exception) as exc:
            selectors.payment_desk(world.users[user], world.clusters["tea"])
        assert getattr(exc.value, "code", None) == "not_found"
    before = counts()
    confirm(world, escrow)
    assert counts() != before
    desk = selectors.payment_desk(world.users["operator"], world.clusters["tea"].pk)
    assert [r.order_id for r in desk] == [terms.pk]
