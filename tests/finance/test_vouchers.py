"""Vouchers: splits to the fen, transfers down the chain with the receiver's acceptance, the chain of
custody and who may read it, the overdue flag, and the fingerprints of "no asset financed twice"."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from chanlian.core.errors import ServiceError
from chanlian.finance import selectors, services
from chanlian.finance.models import FinancedAsset, Voucher, VoucherTransfer
from tests.finance.helpers import confirmed_voucher, counts, tier2

pytestmark = pytest.mark.django_db


def _code(fn, *args, **kwargs) -> tuple[int, str]:
    with pytest.raises(ServiceError) as info:
        fn(*args, **kwargs)
    return info.value.status, info.value.code


@pytest.fixture
def voucher(world):
    return confirmed_voucher(world)


# ------------------------------------------------------------------ split


def test_split_into_parts_that_sum_to_the_fen(world, voucher):
    parts = services.split_voucher(
        world.users["supplier_staff"], voucher.pk, amounts=["20000.01", "15999.99"]
    )
    voucher.refresh_from_db()
    assert voucher.status == "split"
    assert [p.amount for p in parts] == [Decimal("20000.01"), Decimal("15999.99")]
    assert sum(p.amount for p in parts) == voucher.amount
    for p in parts:
        assert (p.parent_id, p.root_id, p.issuer_id, p.holder_id) == (
            voucher.pk,
            voucher.pk,
            voucher.issuer_id,
            voucher.holder_id,
        )
        assert p.maturity_date == voucher.maturity_date and p.status == "held"
    # a part splits again, down to a fen
    more = services.split_voucher(world.users["supplier"], parts[1].pk, amounts=["0.01", "15999.98"])
    assert more[0].root_id == voucher.pk and more[0].parent_id == parts[1].pk
    assert [v.number for v in selectors.lineage(more[0])] == [voucher.number, parts[1].number, more[0].number]


BAD_SPLITS = [
    (["20000.00", "15000.00"], "parts_do_not_sum"),
    (["20000.00", "16000.01"], "parts_do_not_sum"),
    (["36000.00", "0"], "invalid_amount"),
    (["36000.00", "0.00"], "invalid_amount"),
    (["36100.00", "-100.00"], "invalid_amount"),
    (["18000.005", "17999.995"], "too_many_decimals"),
    (["abc", "36000.00"], "invalid_amount"),
    (["NaN", "36000.00"], "invalid_amount"),
    ([18000.5, 17999.5], "invalid_amount"),  # floats are never money
    (["36000.00"], "too_few_parts"),
    ([], "too_few_parts"),
    (["1.00"] * 101, "too_many_parts"),
    ("36000.00", "invalid_amount"),
]


@pytest.mark.parametrize("amounts,code", BAD_SPLITS)
def test_bad_splits_are_refused_and_change_nothing(world, voucher, amounts, code):
    before = counts()
    assert _code(services.split_voucher, world.users["supplier"], voucher.pk, amounts=amounts) == (400, code)
    assert counts() == before
    voucher.refresh_from_db()
    assert voucher.status == "held"


def test_only_the_holder_splits(world, voucher):
    before = counts()
    # the issuer sees it, but does not hold it; a viewer of the holder only reads
    assert _code(services.split_voucher, world.users["buyer"], voucher.pk, amounts=["1.00", "35999.00"]) == (
        403,
        "not_holder",
    )
    assert _code(
        services.split_voucher, world.users["supplier_viewer"], voucher.pk, amounts=["1.00", "35999.00"]
    ) == (403, "not_holder")
    for name in ("outsider", "lender", "gov", "nobody", "operator"):
        assert _code(services.split_voucher, world.users[name], voucher.pk, amounts=["1.00", "35999.00"]) == (
            404,
            "not_found",
        )
    assert counts() == before


def test_a_split_voucher_is_final(world, voucher):
    services.split_voucher(world.users["supplier"], voucher.pk, amounts=["1.00", "35999.00"])
    before = counts()
    assert _code(
        services.split_voucher, world.users["supplier"], voucher.pk, amounts=["1.00", "35999.00"]
    ) == (
        409,
        "voucher_not_active",
    )
    assert _code(services.transfer_voucher, world.users["supplier"], voucher.pk, to_enterprise=1) == (
        409,
        "voucher_not_active",
    )
    assert counts() == before


# ------------------------------------------------------------------ transfer


def test_transfer_to_an_own_supplier_accepted(world, voucher):
    rival = tier2(world)
    part, _rest = services.split_voucher(
        world.users["supplier"], voucher.pk, amounts=["10000.00", "26000.00"]
    )
    transfer = services.transfer_voucher(world.users["supplier"], part.pk, to_enterprise=rival.pk)
    part.refresh_from_db()
    assert part.status == "transferring" and part.holder == world.enterprises["supplier"]
    assert transfer.status == "pending" and transfer.to_enterprise == rival
    # the receiver sees what it is offered, and only that
    assert selectors.vouchers(world.users["rival"]).get().pk == part.pk
    assert selectors.voucher_actions(world.users["rival"], part) == ["accept", "decline"]
    assert selectors.voucher_actions(world.users["supplier"], part) == ["withdraw"]
    # while pending, the holder cannot split or transfer it again
    assert _code(services.split_voucher, world.users["supplier"], part.pk, amounts=["1.00", "9999.00"]) == (
        409,
        "voucher_not_active",
    )
    services.accept_voucher_transfer(world.users["rival"], part.pk)
    part.refresh_from_db()
    assert part.status == "held" and part.holder == rival
    assert VoucherTransfer.objects.get(pk=transfer.pk).status == "accepted"
    # the old holder now only reads it; the new holder acts on it
    assert _code(services.split_voucher, world.users["supplier"], part.pk, amounts=["1.00", "9999.00"]) == (
        403,
        "not_holder",
    )
    assert selectors.voucher_actions(world.users["rival"], part) == ["split", "transfer"]
    kinds = [e.kind for e in selectors.custody(world.users["rival"], part.pk)]
    assert kinds == ["issued", "split", "split_from", "transfer_offered", "transfer_accepted"]


def test_transfer_declined_returns_the_voucher(world, voucher):
    rival = tier2(world)
    services.transfer_voucher(world.users["supplier"], voucher.pk, to_enterprise=rival.pk)
    services.decline_voucher_transfer(world.users["rival"], voucher.pk, reason="不收凭证")
    voucher.refresh_from_db()
    assert voucher.status == "held" and voucher.holder == world.enterprises["supplier"]
    # it never held it: after declining it sees nothing
    assert not selectors.vouchers(world.users["rival"]).exists()
    events = selectors.custody(world.users["supplier"], voucher.pk)
    assert events[-1].kind == "transfer_declined" and events[-1].data["reason"] == "不收凭证"


def test_bad_transfers_are_refused_and_change_nothing(world, voucher):
    rival = tier2(world)
    supplier = world.users["supplier"]
    before = counts()
    # the buyer (issuer) is not the holder's supplier; nor is an enterprise it never bought from
    assert _code(
        services.transfer_voucher, supplier, voucher.pk, to_enterprise=world.enterprises["buyer"].pk
    ) == (
        409,
        "not_your_supplier",
    )
    assert _code(
        services.transfer_voucher, supplier, voucher.pk, to_enterprise=world.enterprises["outsider"].pk
    ) == (
        409,
        "not_your_supplier",
    )
    assert _code(
        services.transfer_voucher, supplier, voucher.pk, to_enterprise=world.enterprises["lender"].pk
    ) == (
        400,
        "invalid_enterprise",
    )
    assert _code(services.transfer_voucher, supplier, voucher.pk, to_enterprise=10**9) == (
        400,
        "invalid_enterprise",
    )
    assert _code(services.transfer_voucher, supplier, voucher.pk, to_enterprise="abc") == (
        400,
        "invalid_enterprise",
    )
    assert _code(
        services.transfer_voucher, supplier, voucher.pk, to_enterprise=world.enterprises["supplier"].pk
    ) == (
        400,
        "same_enterprise",
    )
    # a voucher you do not hold
    assert _code(services.transfer_voucher, world.users["buyer"], voucher.pk, to_enterprise=rival.pk) == (
        403,
        "not_holder",
    )
    assert _code(services.transfer_voucher, world.users["rival"], voucher.pk, to_enterprise=rival.pk) == (
        404,
        "not_found",
    )
    assert _code(services.transfer_voucher, world.users["lender"], voucher.pk, to_enterprise=rival.pk) == (
        404,
        "not_found",
    )
    # accepting what is not offered to you
    assert _code(services.accept_voucher_transfer, world.users["rival"], voucher.pk) == (404, "not_found")
    assert _code(services.accept_voucher_transfer, world.users["supplier"], voucher.pk) == (
        403,
        "not_receiver",
    )
    assert counts() == before
    services.transfer_voucher(supplier, voucher.pk, to_enterprise=rival.pk)
    pending = counts()
    assert _code(services.accept_voucher_transfer, world.users["buyer"], voucher.pk) == (403, "not_receiver")
    assert _code(services.accept_voucher_transfer, world.users["outsider"], voucher.pk) == (404, "not_found")
    assert _code(services.transfer_voucher, supplier, voucher.pk, to_enterprise=rival.pk) == (
        409,
        "voucher_not_active",
    )
    assert _code(services.decline_voucher_transfer, world.users["rival"], voucher.pk, reason="x" * 501) == (
        400,
        "too_long",
    )
    assert counts() == pending


def test_a_matured_voucher_is_flagged_overdue_and_no_longer_moves(world, voucher):
    assert not voucher.is_overdue
    Voucher.objects.filter(pk=voucher.pk).update(maturity_date=timezone.localdate() - timedelta(days=1))
    voucher.refresh_from_db()
    assert voucher.is_overdue
    assert selectors.voucher_actions(world.users["supplier"], voucher) == []
    before = counts()
    assert _code(
        services.split_voucher, world.users["supplier"], voucher.pk, amounts=["1.00", "35999.00"]
    ) == (
        409,
        "voucher_matured",
    )
    assert counts() == before


# ------------------------------------------------------------------ custody visibility


def test_the_chain_of_custody_is_for_holders_past_and_present_and_the_issuer(world, voucher):
    rival = tier2(world)
    part, rest = services.split_voucher(world.users["supplier"], voucher.pk, amounts=["10000.00", "26000.00"])
    services.transfer_voucher(world.users["supplier"], part.pk, to_enterprise=rival.pk)
    services.accept_voucher_transfer(world.users["rival"], part.pk)
    for name in ("rival", "supplier", "supplier_viewer", "buyer", "admin"):  # present, past, issuer
        assert selectors.custody(world.users[name], part.pk), name
    # the rival never held the original nor the other part
    for name, pk in (("rival", voucher.pk), ("rival", rest.pk)):
        with pytest.raises(ServiceError) as info:
            selectors.custody(world.users[name], pk)
        assert info.value.status == 404
    for name in ("outsider", "lender", "gov", "nobody", "operator", "pending"):
        for pk in (voucher.pk, part.pk, rest.pk):
            with pytest.raises(ServiceError) as info:
                selectors.custody(world.users[name], pk)
            assert info.value.status == 404, name
        assert not selectors.vouchers(world.users[name]).exists(), name


# ------------------------------------------------------------------ no asset financed twice


def test_an_asset_is_claimed_once_and_a_claimed_voucher_no_longer_moves(world, voucher):
    services.claim_asset(voucher, claimed_by="financing:1")
    before = counts()
    assert _code(services.claim_asset, voucher, claimed_by="financing:2") == (409, "already_financed")
    assert _code(
        services.split_voucher, world.users["supplier"], voucher.pk, amounts=["1.00", "35999.00"]
    ) == (
        409,
        "already_financed",
    )
    assert counts() == before


def test_a_receivable_claims_itself_and_its_invoices(world, voucher):
    receivable = voucher.receivable
    prints = services.fingerprints(receivable)
    assert prints[0] == ("receivable", f"receivable:{receivable.pk}")
    assert [k for k, _ in prints[1:]] == ["invoice"]
    rows = services.claim_asset(receivable, claimed_by="financing:3")
    assert rows[1].invoice is not None and rows[1].fingerprint.startswith("invoice::")
    assert _code(services.claim_asset, receivable, claimed_by="financing:4") == (409, "already_financed")
    assert FinancedAsset.objects.count() == 2


def test_the_fingerprint_is_unique_in_the_database(world, voucher):
    from django.db import IntegrityError, transaction

    FinancedAsset.objects.create(fingerprint="voucher:999", kind="voucher", cluster=voucher.cluster)
    with pytest.raises(IntegrityError), transaction.atomic():
        FinancedAsset.objects.create(fingerprint="voucher:999", kind="voucher", cluster=voucher.cluster)


def test_the_holder_withdraws_a_pending_offer(world, voucher):
    rival = tier2(world)
    before = counts()
    assert _code(services.withdraw_voucher_transfer, world.users["supplier"], voucher.pk) == (
        409,
        "voucher_not_active",
    )
    assert counts() == before
    services.transfer_voucher(world.users["supplier"], voucher.pk, to_enterprise=rival.pk)
    voucher.refresh_from_db()
    assert selectors.voucher_actions(world.users["supplier"], voucher) == ["withdraw"]
    pending = counts()
    assert _code(services.withdraw_voucher_transfer, world.users["rival"], voucher.pk) == (403, "not_holder")
    assert _code(services.withdraw_voucher_transfer, world.users["buyer"], voucher.pk) == (403, "not_holder")
    assert _code(services.withdraw_voucher_transfer, world.users["outsider"], voucher.pk) == (
        404,
        "not_found",
    )
    assert counts() == pending
    services.withdraw_voucher_transfer(world.users["supplier_staff"], voucher.pk)
    voucher.refresh_from_db()
    assert voucher.status == "held" and voucher.holder == world.enterprises["supplier"]
    assert VoucherTransfer.objects.get().status == "withdrawn"
    assert not selectors.vouchers(world.users["rival"]).exists()
    assert _code(services.accept_voucher_transfer, world.users["rival"], voucher.pk) == (404, "not_found")
    assert selectors.custody(world.users["supplier"], voucher.pk)[-1].kind == "transfer_withdrawn"
