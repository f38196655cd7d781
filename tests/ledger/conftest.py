"""The books of the personas' clusters, and a realistic month of money movements posted through the
services (the same entries docs/ledger.md tells the trading services to post)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from chanlian.ledger.services import open_account, post_entry, reverse_entry

D = Decimal


@dataclass
class Books:
    world: object
    tea: object
    steel: object
    bank: object
    fees: object
    suspense: object
    charges: object
    s_cash: object
    s_receivable: object
    b_cash: object
    b_escrow: object
    b_payable: object
    o_cash: object
    steel_bank: object

    @property
    def operator(self):
        return self.world.users["operator"]


@pytest.fixture
def books(world) -> Books:
    tea, steel = world.clusters["tea"], world.clusters["steel"]
    supplier, buyer = world.enterprises["supplier"], world.enterprises["buyer"]
    return Books(
        world=world,
        tea=tea,
        steel=steel,
        bank=open_account(tea, "bank_clearing"),
        fees=open_account(tea, "fee_income"),
        suspense=open_account(tea, "suspense"),
        charges=open_account(tea, "bank_charges"),
        s_cash=open_account(tea, "cash", supplier),
        s_receivable=open_account(tea, "receivable", supplier),
        b_cash=open_account(tea, "cash", buyer),
        b_escrow=open_account(tea, "escrow", buyer),
        b_payable=open_account(tea, "payable", buyer),
        o_cash=open_account(steel, "cash", world.enterprises["outsider"]),
        steel_bank=open_account(steel, "bank_clearing"),
    )


def post_month(b: Books) -> dict:
    """Two orders of 铁观音 (one in escrow, one on 30-day terms), a cancelled one, a payout, bank charges,
    an unidentified receipt matched later, and one correction by reversal. Returns the expected balances
    (signed, debit positive)."""
    op = b.operator
    post = lambda kind, lines, **kw: post_entry(op, cluster=b.tea, kind=kind, lines=lines, **kw)  # noqa: E731
    # order 1: 100 kg × 180.00 in escrow; 0.5 % platform fee
    post("escrow.deposit", [(b.bank, D("18000.00")), (b.b_escrow, D("-18000.00"))], reference="order:1")
    post(
        "escrow.release",
        [(b.b_escrow, D("18000.00")), (b.s_cash, D("-17910.00")), (b.fees, D("-90.00"))],
        reference="order:1",
        memo="验收合格，放款给供应商",
    )
    post("payout", [(b.s_cash, D("10000.00")), (b.bank, D("-10000.00"))], reference="payout:1")
    # order 2: cancelled before shipment, refunded to the buyer's platform cash
    post("escrow.deposit", [(b.bank, D("5000.00")), (b.b_escrow, D("-5000.00"))], reference="order:2")
    post("escrow.refund", [(b.b_escrow, D("5000.00")), (b.b_cash, D("-5000.00"))], reference="order:2")
    # order 3: on 30-day terms, accepted, then paid by bank transfer and settled
    post("terms.accept", [(b.b_payable, D("7200.50")), (b.s_receivable, D("-7200.50"))], reference="order:3")
    post(
        "terms.settle",
        [
            (b.bank, D("7200.50")),
            (b.b_payable, D("-7200.50")),
            (b.s_receivable, D("7200.50")),
            (b.s_cash, D("-7164.50")),
            (b.fees, D("-36.00")),
        ],
        reference="order:3",
    )
    # the bank's monthly charge, a receipt nobody could match yet, then matched to the buyer's escrow
    post("bank.charges", [(b.charges, D("12.00")), (b.bank, D("-12.00"))], reference="bank:2026-03")
    post("bank.unidentified", [(b.bank, D("300.00")), (b.suspense, D("-300.00"))], reference="bank:line:17")
    wrong = post(
        "suspense.match", [(b.suspense, D("300.00")), (b.s_cash, D("-300.00"))], reference="bank:line:17"
    )
    reverse_entry(op, wrong, "matched to the wrong enterprise")
    post("suspense.match", [(b.suspense, D("300.00")), (b.b_escrow, D("-300.00"))], reference="bank:line:17")
    return {
        b.bank.pk: D("20488.50"),
        b.fees.pk: D("-126.00"),
        b.charges.pk: D("12.00"),
        b.suspense.pk: D("0.00"),
        b.s_cash.pk: D("-15074.50"),
        b.s_receivable.pk: D("0.00"),
        b.b_cash.pk: D("-5000.00"),
        b.b_escrow.pk: D("-300.00"),
        b.b_payable.pk: D("0.00"),
    }


@pytest.fixture
def month(books) -> dict:
    return post_month(books)
