"""The beancount export passes beancount's own bean-check — and a corrupted one fails it, so the check
can fail."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from beancount import loader
from django.utils import timezone

from chanlian.ledger.export import beancount_export, quote
from chanlian.ledger.services import open_account, post_entry
from tests.ledger.conftest import post_month

pytestmark = pytest.mark.django_db
BEAN_CHECK = shutil.which("bean-check", path=str(Path(sys.executable).parent)) or shutil.which("bean-check")


def realistic(books) -> str:
    """A month of trade, plus older history (backdated) with awkward memos and a second currency."""
    for days in (45, 30, 12):
        post_entry(
            None,
            cluster=books.tea,
            kind="escrow.deposit",
            posted_at=timezone.now() - timedelta(days=days),
            memo='买方 "上海茶商" 付款\\备注\n第二行',
            reference=f"order:old-{days}",
            lines=[(books.bank, Decimal("1234.56")), (books.b_escrow, Decimal("-1234.56"))],
        )
    usd = open_account(books.tea, "bank_clearing", currency="USD")
    usd_fees = open_account(books.tea, "fee_income", currency="USD")
    post_entry(
        None, cluster=books.tea, kind="fx.fee", lines=[(usd, Decimal("3.10")), (usd_fees, Decimal("-3.10"))]
    )
    post_month(books)
    return beancount_export(books.tea)


def bean_check(text: str, tmp_path: Path) -> subprocess.CompletedProcess:
    path = tmp_path / "books.beancount"
    path.write_text(text, encoding="utf-8")
    return subprocess.run([BEAN_CHECK, str(path)], capture_output=True, text=True, timeout=120)


def test_export_passes_bean_check(books, tmp_path):
    text = realistic(books)
    assert BEAN_CHECK, "bean-check (beancount 3) is a dev dependency"
    result = bean_check(text, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    _entries, errors, options = loader.load_string(text)
    assert errors == [], errors
    assert options["title"] == "安溪铁观音产业集群 结算账簿"


def test_export_round_trips_names_memos_and_balances(books):
    text = realistic(books)
    entries, errors, _ = loader.load_string(text)
    assert not errors
    txns = [e for e in entries if type(e).__name__ == "Transaction"]
    assert any(t.narration == '买方 "上海茶商" 付款\\备注 第二行' for t in txns)
    opens = {e.account: e for e in entries if type(e).__name__ == "Open"}
    assert (
        opens[f"Liabilities:Customers:E{books.s_cash.enterprise_id}:Cash"].meta["name"].endswith("平台现金")
    )
    assert "Assets:Bank:Clearing:USD" in opens and opens["Assets:Bank:Clearing:USD"].currencies == ["USD"]
    balances = [e for e in entries if type(e).__name__ == "Balance"]
    bank = next(b for b in balances if b.account == "Assets:Bank:Clearing")
    assert bank.amount.number == Decimal("20488.50") + 3 * Decimal("1234.56")
    assert all(re.fullmatch(r"[A-Z][A-Za-z]*(:[A-Z0-9][A-Za-z0-9-]*)+", a) for a in opens)


def test_corrupted_export_fails_bean_check(books, tmp_path):
    text = realistic(books)
    # one posting of one transaction changed by a fen: that transaction no longer balances
    corrupted = text.replace("Income:Fees  -90.00 CNY", "Income:Fees  -90.01 CNY", 1)
    assert corrupted != text
    result = bean_check(corrupted, tmp_path)
    assert result.returncode != 0
    assert "does not balance" in (result.stdout + result.stderr).lower()
    _, errors, _ = loader.load_string(corrupted)
    assert errors


def test_a_wrong_derived_balance_fails_bean_check(books, tmp_path):
    text = realistic(books)
    tampered = re.sub(r"(balance Income:Fees\s+)-126\.00", r"\1-127.00", text)
    assert tampered != text
    result = bean_check(tampered, tmp_path)
    assert result.returncode != 0 and "balance" in (result.stdout + result.stderr).lower()


def test_empty_books_export_is_valid(books):
    _, errors, _ = loader.load_string(beancount_export(books.tea))
    assert errors == []


def test_quote_escapes():
    assert quote('a"b\\c\nd') == '"a\\"b\\\\c d"'
