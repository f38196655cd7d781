"""The chart of accounts, seen from the platform's books (docs/ledger.md has the table and the entries).

The platform holds its customers' money in the cluster's supervised bank account: the bank balance is the
platform's **asset**, and every yuan of it is owed to someone — a customer's cash or escrow is a
**liability** of the platform, the platform's own fees are **income**. Amounts are signed: a debit is
positive, a credit negative; an account's *normal side* is the side its balance usually sits on.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class AccountType(models.TextChoices):
    ASSET = "asset", _("Asset")
    LIABILITY = "liability", _("Liability")
    EQUITY = "equity", _("Equity")
    INCOME = "income", _("Income")
    EXPENSE = "expense", _("Expense")


class Side(models.TextChoices):
    DEBIT = "debit", _("Debit")
    CREDIT = "credit", _("Credit")


class AccountCode(models.TextChoices):
    # held for one enterprise
    CASH = "cash", _("Cash on the platform")
    ESCROW = "escrow", _("Escrow held")
    RECEIVABLE = "receivable", _("Trade receivable")
    PAYABLE = "payable", _("Trade payable")
    # the cluster's own
    BANK_CLEARING = "bank_clearing", _("Supervised bank account")
    SUSPENSE = "suspense", _("Unidentified receipts")
    FEE_INCOME = "fee_income", _("Platform fee income")
    BANK_CHARGES = "bank_charges", _("Bank charges")
    EQUITY = "equity", _("Platform equity")


@dataclass(frozen=True)
class AccountSpec:
    code: str
    type: str
    per_enterprise: bool
    beancount: str  # the account's beancount name; ``{e}`` is the enterprise id
    name_zh: str  # the book name of the account (data, kept in the row and the export's metadata)

    @property
    def normal_side(self) -> str:
        return Side.DEBIT if self.type in (AccountType.ASSET, AccountType.EXPENSE) else Side.CREDIT

    @property
    def normal_sign(self) -> int:
        """+1 when a debit raises the balance, -1 when a credit does."""
        return 1 if self.normal_side == Side.DEBIT else -1


CHART: dict[str, AccountSpec] = {
    spec.code: spec
    for spec in (
        AccountSpec(
            AccountCode.CASH, AccountType.LIABILITY, True, "Liabilities:Customers:E{e}:Cash", "平台现金"
        ),
        AccountSpec(
            AccountCode.ESCROW, AccountType.LIABILITY, True, "Liabilities:Customers:E{e}:Escrow", "监管资金"
        ),
        # A supplier's claim on a buyer on payment terms, which the platform will collect and pass on:
        # owed *to* the customer, so a liability; its mirror is the buyer's payable, an asset.
        AccountSpec(
            AccountCode.RECEIVABLE,
            AccountType.LIABILITY,
            True,
            "Liabilities:Customers:E{e}:TradeReceivable",
            "应收账款",
        ),
        AccountSpec(
            AccountCode.PAYABLE,
            AccountType.ASSET,
            True,
            "Assets:Customers:E{e}:TradePayable",
            "应付账款",
        ),
        AccountSpec(
            AccountCode.BANK_CLEARING, AccountType.ASSET, False, "Assets:Bank:Clearing", "资金监管银行账户"
        ),
        AccountSpec(
            AccountCode.SUSPENSE,
            AccountType.LIABILITY,
            False,
            "Liabilities:Suspense:UnidentifiedReceipts",
            "待查明来款",
        ),
        AccountSpec(AccountCode.FEE_INCOME, AccountType.INCOME, False, "Income:Fees", "平台服务费收入"),
        AccountSpec(
            AccountCode.BANK_CHARGES, AccountType.EXPENSE, False, "Expenses:Bank:Charges", "银行手续费"
        ),
        AccountSpec(AccountCode.EQUITY, AccountType.EQUITY, False, "Equity:Platform", "平台权益"),
    )
}

ENTERPRISE_CODES = frozenset(c for c, s in CHART.items() if s.per_enterprise)
CLUSTER_CODES = frozenset(c for c, s in CHART.items() if not s.per_enterprise)
