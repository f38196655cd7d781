"""The cluster's books as a beancount file, so that an independent tool can check them.

    bean-check books.beancount      # beancount 3: exits 0 and prints nothing when the books are sound

Account names are ASCII (``Liabilities:Customers:E12:Escrow``); the Chinese book names, enterprise
names and USCCs go in metadata, quoted and escaped. Every account is opened on the day of its first use
(or creation, whichever is earlier); every journal entry is a transaction with its postings in its
currency; after the last entry a ``balance`` assertion per account repeats the balance the platform
derives, so bean-check also proves that the platform's figures are the sums of the postings.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Min, Prefetch
from django.utils import timezone

from chanlian.registry.models import Cluster

from .models import Account, JournalEntry, JournalLine
from .selectors import balances, fen


def quote(text) -> str:
    """A beancount string literal: backslashes and quotes escaped, line breaks and controls as spaces."""
    value = "".join(ch if ch.isprintable() else " " for ch in str(text))
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _day(moment):
    return timezone.localtime(moment).date()


def _amount(value) -> str:
    return f"{fen(value):.2f}"


def beancount_export(cluster: Cluster) -> str:
    """The whole ledger of ``cluster`` as beancount text (a caller has checked the reader may see it)."""
    accounts = list(Account.objects.filter(cluster=cluster).select_related("enterprise").order_by("id"))
    first_use = dict(
        JournalLine.objects.filter(cluster=cluster)
        .values_list("account_id")
        .annotate(first=Min("entry__posted_at"))
        .order_by()
    )
    out = [
        "; Chanlian (产链) settlement ledger — exported for an independent check with bean-check",
        f"; cluster {cluster.pk}: {cluster.name}",
        f"; exported at {timezone.localtime().isoformat(timespec='seconds')}",
        "",
        f"option {quote('title')} {quote(cluster.name + ' 结算账簿')}",
        f"option {quote('operating_currency')} {quote('CNY')}",
        "",
    ]
    names = {}
    for account in sorted(accounts, key=lambda a: (a.beancount_name, a.pk)):
        names[account.pk] = account.beancount_name
        opened = _day(account.created_at)
        if account.pk in first_use:
            opened = min(opened, _day(first_use[account.pk]))
        out.append(f"{opened.isoformat()} open {account.beancount_name} {account.currency}")
        out.append(f"  chanlian-account: {quote(account.pk)}")
        out.append(f"  code: {quote(account.code)}")
        out.append(f"  name: {quote(account.name)}")
        if account.enterprise is not None:
            out.append(f"  enterprise: {quote(account.enterprise.name)}")
            out.append(f"  uscc: {quote(account.enterprise.uscc)}")
    out.append("")

    last_day = None
    entries = (
        JournalEntry.objects.filter(cluster=cluster)
        .order_by("posted_at", "id")
        .prefetch_related(Prefetch("lines", queryset=JournalLine.objects.order_by("id")))
    )
    currency = {a.pk: a.currency for a in accounts}
    for entry in entries.iterator(chunk_size=2000):
        day = _day(entry.posted_at)
        last_day = day
        narration = entry.memo or entry.kind
        out.append(f"{day.isoformat()} * {quote(entry.kind)} {quote(narration)}")
        out.append(f"  chanlian-entry: {quote(entry.pk)}")
        if entry.reference:
            out.append(f"  reference: {quote(entry.reference)}")
        if entry.reverses_id:
            out.append(f"  reverses: {quote(entry.reverses_id)}")
        for line in entry.lines.all():
            out.append(f"  {names[line.account_id]}  {_amount(line.amount)} {currency[line.account_id]}")
        out.append("")

    if last_day is not None:
        # Balance assertions hold at the start of their day: the day after the last entry.
        check_day = (last_day + timedelta(days=1)).isoformat()
        derived = balances(list(first_use))
        for account in sorted(accounts, key=lambda a: (a.beancount_name, a.pk)):
            if account.pk in first_use:
                out.append(
                    f"{check_day} balance {account.beancount_name}  {_amount(derived[account.pk])} "
                    f"{account.currency}"
                )
        out.append("")
    return "\n".join(out)
