"""The order's contract: its content and hash, issuing and voiding versions, signing, amendment,
tampering, privacy — on the real database, through the real services."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.utils import timezone

from chanlian.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from chanlian.core.models import AuditEntry
from chanlian.registry.models import Enterprise
from chanlian.trade.models import Contract, ContractSignature, Order
from chanlian.trade.services import contracts
from tests.trade.order_steps import PASSWORD, award_order, drive, listing_order

pytestmark = pytest.mark.django_db


def confirmed(world, **kw) -> Order:
    return drive(world, listing_order(world, **kw), "confirmed")


def fresh(order) -> Order:
    return Order.objects.get(pk=order.pk)


def snapshot(order) -> dict:
    """Everything signing may change: what a refusal must leave as it was."""
    return {
        "order": Order.objects.filter(pk=order.pk).values().get(),
        "contracts": list(Contract.objects.filter(order_id=order.pk).values().order_by("id")),
        "signatures": list(
            ContractSignature.objects.filter(contract__order_id=order.pk).values().order_by("id")
        ),
        "audit": AuditEntry.objects.count(),
    }


def sign(world, order, user, *, password=PASSWORD, content_hash=None):
    if content_hash is None:
        content_hash = contracts.current_contract(fresh(order)).content_hash
    return contracts.sign_contract(world.users[user], order.pk, password=password, content_hash=content_hash)


# ----------------------------------------------------------------------------------------------- content


def test_confirmation_issues_version_one_with_the_orders_terms(world):
    order = confirmed(world)
    contract = contracts.current_contract(order)
    assert contract.version == 1 and contract.voided_at is None
    c = contract.content
    assert c["title"] == "购销合同"
    assert c["number"] == f"{order.reference}-01"
    assert c["date"] == timezone.localtime(fresh(order).confirmed_at).date().isoformat()
    buyer, supplier = c["parties"]["buyer"], c["parties"]["supplier"]
    assert buyer["name"] == "上海茶商贸易有限公司" and buyer["role"] == "甲方（买方）"
    assert supplier["name"] == "安溪县祥华茶厂" and supplier["role"] == "乙方（卖方）"
    assert buyer["uscc"] == world.enterprises["buyer"].uscc
    assert supplier["uscc"] == world.enterprises["supplier"].uscc
    assert "安溪县" in supplier["region"] and "上海" in buyer["region"]
    assert supplier["contact_phone"] == "0595-23456789" and supplier["contact_name"] == "联系人"
    (item,) = c["items"]
    assert item["category"] == "铁观音毛茶"  # the pack's Chinese name
    assert item["name"] == "2025秋茶 清香型铁观音毛茶 一级"
    labels = {s["key"]: (s["label"], s["value"]) for s in item["spec"]}
    assert labels["grade"] == ("等级", "一级")
    assert item["quantity"] == "200" and item["unit_price"] == "180.00" and item["amount"] == "36,000.00"
    assert item["unit"].startswith("千克")
    assert c["total"] == {
        "amount": "36,000.00",
        "value": "36000.00",
        "capital": "人民币叁万陆仟元整",
        "currency": "CNY",
    }
    assert c["delivery"]["county"].startswith("上海市") and c["delivery"]["county"].endswith("浦东新区")
    assert c["delivery"]["date"] == fresh(order).delivery_date.isoformat()
    assert c["payment"]["terms"] == "escrow"
    assert "资金监管账户" in c["payment"]["text"] and order.reference in c["payment"]["text"]
    assert c["acceptance"]["grade"] == "一级"
    assert c["acceptance"]["standard"].startswith("GB/T 30357.2-2013")
    assert c["fee"] == {"rate": "0.0050", "percent": "0.5"}
    texts = " ".join(a["text"] for a in c["articles"])
    assert "安溪茶业集团有限公司" in texts and "调解" in texts and "人民法院" in texts
    assert "福建省" in c["dispute"]["court_region"] and "安溪县" in c["dispute"]["court_region"]
    assert [s["side"] for s in c["signatures"]] == ["buyer", "supplier"]


def test_hash_is_sha256_of_canonical_json_and_recomputes(world):
    import hashlib

    order = confirmed(world)
    contract = contracts.current_contract(order)
    canonical = json.dumps(contract.content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert contract.content_hash == hashlib.sha256(canonical.encode()).hexdigest()
    again = contracts.contract_content(fresh(order), version=1)
    assert again == contract.content
    assert contracts.content_hash(again) == contract.content_hash

    def no_floats(value):
        if isinstance(value, dict):
            return all(no_floats(v) for v in value.values())
        if isinstance(value, list):
            return all(no_floats(v) for v in value)
        return not isinstance(value, float)

    assert no_floats(contract.content)
    # Decimals are strings; the key order does not matter
    assert contracts.content_hash({"b": Decimal("1.50"), "a": 1}) == contracts.content_hash(
        {"a": 1, "b": "1.50"}
    )
    with pytest.raises(TypeError):
        contracts.content_hash({"a": 1.5})


def test_terms_order_states_its_days_and_an_award_order_its_totals(world):
    order = drive(world, listing_order(world, payment_terms="terms_60"), "confirmed")
    c = contracts.current_contract(order).content
    assert c["payment"] == {"terms": "terms_60", "days": 60, "text": c["payment"]["text"]}
    assert "验收合格之日起60日内" in c["payment"]["text"]
    award = drive(world, award_order(world), "confirmed")
    c = contracts.current_contract(award).content
    assert c["total"]["capital"] == "人民币壹拾万叁仟贰佰元整"
    assert c["items"][0]["quantity"] == "600" and c["items"][0]["unit_price"] == "172.00"


def test_note_becomes_an_article(world):
    order = confirmed(world, note="包装：每箱 10 千克，真空小包。")
    headings = [a["heading"] for a in contracts.current_contract(order).content["articles"]]
    assert "第八条 其他约定" in headings and headings[-1].startswith("第九条")


def test_created_order_has_no_contract_and_cancel_voids_it(world):
    order = listing_order(world)
    assert contracts.current_contract(order) is None
    order = confirmed(world)
    contract = contracts.current_contract(order)
    drive(world, order, "cancelled")
    contract.refresh_from_db()
    assert contract.voided_at is not None and contract.void_reason
    assert contracts.current_contract(order) is None
    assert contracts.void_contract(fresh(order), "again") is None
    assert AuditEntry.objects.filter(action="contract.voided", object_id=str(contract.pk)).exists()


# ----------------------------------------------------------------------------------------------- signing


def test_both_admins_sign_and_the_order_is_contract_signed(world):
    order = confirmed(world)
    contract = sign(world, order, "supplier")
    assert fresh(order).status == "confirmed"
    status = contracts.signature_status(contract)
    assert status["supplier"]["signed"] and status["supplier"]["valid"]
    assert not status["buyer"]["signed"] and not status["complete"] and not status["valid"]
    sign(world, order, "buyer")
    order = fresh(order)
    assert order.status == "contract_signed" and order.signed_at is not None
    status = contracts.signature_status(contract)
    assert status["valid"] and status["complete"] and status["intact"] and status["matches_order"]
    assert status["buyer"]["user_id"] == world.users["buyer"].pk
    assert status["buyer"]["enterprise"] == "上海茶商贸易有限公司"
    assert status["supplier"]["signed_at"] is not None
    sigs = ContractSignature.objects.filter(contract=contract)
    assert {s.side: s.enterprise_id for s in sigs} == {
        "buyer": world.enterprises["buyer"].pk,
        "supplier": world.enterprises["supplier"].pk,
    }
    assert all(s.content_hash == contract.content_hash for s in sigs)
    assert AuditEntry.objects.filter(action="contract.signed").count() == 2
    assert AuditEntry.objects.filter(action="order.contract_signed").count() == 1


def test_terms_order_moves_on_to_on_terms(world):
    order = drive(world, listing_order(world, payment_terms="terms_30"), "confirmed")
    sign(world, order, "buyer")
    sign(world, order, "supplier")
    order = fresh(order)
    assert order.status == "on_terms"
    assert list(order.events.values_list("to_status", flat=True))[-2:] == ["contract_signed", "on_terms"]


@pytest.mark.parametrize("user", ["supplier_staff", "supplier_viewer"])
def test_staff_and_viewers_may_not_sign(world, user):
    order = confirmed(world)
    before = snapshot(order)
    with pytest.raises(Forbidden) as exc:
        sign(world, order, user)
    assert exc.value.code == "not_authorised_signatory" and exc.value.status == 403
    assert snapshot(order) == before


def test_wrong_password_is_refused(world):
    order = confirmed(world)
    before = snapshot(order)
    for password in ("not-the-password", "", None):
        with pytest.raises(InvalidInput) as exc:
            sign(world, order, "buyer", password=password)
        assert exc.value.code == "wrong_password" and exc.value.status == 400
    assert snapshot(order) == before


def test_a_stale_or_wrong_hash_is_refused(world):
    order = confirmed(world)
    before = snapshot(order)
    for digest in ("0" * 64, "", "nonsense"):
        with pytest.raises(Conflict) as exc:
            sign(world, order, "buyer", content_hash=digest)
        assert exc.value.code == "contract_changed"
    assert snapshot(order) == before


def test_one_signature_per_side(world):
    order = confirmed(world)
    sign(world, order, "supplier")
    before = snapshot(order)
    with pytest.raises(Conflict) as exc:
        sign(world, order, "supplier")
    assert exc.value.code == "already_signed"
    assert snapshot(order) == before


def test_signing_needs_a_confirmed_order(world):
    created = listing_order(world)
    with pytest.raises(Conflict) as exc:
        sign(world, created, "supplier", content_hash="0" * 64)
    assert exc.value.code == "illegal_transition"
    order = drive(world, listing_order(world), "contract_signed")
    digest = contracts.current_contract(order).content_hash
    before = snapshot(order)
    with pytest.raises(Conflict) as exc:
        sign(world, order, "buyer", content_hash=digest)
    assert exc.value.code == "illegal_transition"
    assert snapshot(order) == before
    cancelled = drive(world, confirmed(world), "cancelled")
    with pytest.raises(Conflict) as exc:
        sign(world, cancelled, "buyer", content_hash=digest)
    assert exc.value.code == "illegal_transition"


@pytest.mark.parametrize("user", ["outsider", "rival", "rival_buyer", "nobody", "operator", "gov"])
def test_others_do_not_see_the_contract(market, user):
    order = confirmed(market)
    digest = contracts.current_contract(order).content_hash
    before = snapshot(order)
    with pytest.raises(NotFound):
        contracts.sign_contract(market.users[user], order.pk, password=PASSWORD, content_hash=digest)
    with pytest.raises(NotFound):
        contracts.amend_order(market.users[user], order.pk, note="x")
    assert snapshot(order) == before


def test_platform_admin_cannot_sign_for_a_party(world):
    order = confirmed(world)
    with pytest.raises(Forbidden) as exc:
        sign(world, order, "admin")
    assert exc.value.code == "not_authorised_signatory"


# ------------------------------------------------------------------------------------------------ amending


def test_amendment_issues_a_new_version_and_voids_the_signatures(world):
    order = confirmed(world)
    first = sign(world, order, "supplier")
    new_day = timezone.localdate() + dt.timedelta(days=20)
    amended = contracts.amend_order(
        world.users["buyer"],
        order.pk,
        delivery_date=new_day.isoformat(),
        delivery_address="浦东新区张江路 1 号",
    )
    assert amended.delivery_date == new_day and amended.status == "confirmed"
    first.refresh_from_db()
    assert first.voided_at is not None and "version 2" in first.void_reason
    second = contracts.current_contract(amended)
    assert second.version == 2 and second.content["number"] == f"{order.reference}-02"
    assert second.content["delivery"]["address"] == "浦东新区张江路 1 号"
    assert second.content["delivery"]["date"] == new_day.isoformat()
    assert second.content_hash != first.content_hash
    old = contracts.signature_status(first)
    assert old["supplier"]["signed"] and not old["current"] and not old["valid"]
    new = contracts.signature_status(second)
    assert not new["supplier"]["signed"] and not new["buyer"]["signed"]
    # the old hash no longer signs; the supplier signs the new version again
    with pytest.raises(Conflict) as exc:
        sign(world, order, "buyer", content_hash=first.content_hash)
    assert exc.value.code == "contract_changed"
    sign(world, order, "buyer")
    sign(world, order, "supplier")
    assert fresh(order).status == "contract_signed"
    entry = AuditEntry.objects.filter(action="order.amended").get()
    assert entry.data["after"]["contract_version"] == 2
    assert entry.data["before"]["delivery_address"] == ""


def test_amendment_refusals_change_nothing(world):
    order = confirmed(world)
    before = snapshot(order)
    with pytest.raises(InvalidInput) as exc:
        contracts.amend_order(world.users["buyer"], order.pk)
    assert exc.value.code == "nothing_to_amend"
    with pytest.raises(InvalidInput) as exc:
        contracts.amend_order(world.users["buyer"], order.pk, note=order.note)
    assert exc.value.code == "nothing_to_amend"
    with pytest.raises(InvalidInput) as exc:
        contracts.amend_order(world.users["buyer"], order.pk, delivery_date="2020-01-01")
    assert exc.value.code == "delivery_in_past"
    with pytest.raises(InvalidInput) as exc:
        contracts.amend_order(world.users["buyer"], order.pk, delivery_date="tomorrow")
    assert exc.value.code == "invalid_date"
    with pytest.raises(InvalidInput) as exc:
        contracts.amend_order(world.users["buyer"], order.pk, delivery_address="x" * 201)
    assert exc.value.code == "too_long"
    with pytest.raises(Forbidden):
        contracts.amend_order(world.users["supplier_viewer"], order.pk, note="x")
    assert snapshot(order) == before
    signed = drive(world, listing_order(world), "contract_signed")
    before = snapshot(signed)
    with pytest.raises(Conflict) as exc:
        contracts.amend_order(world.users["supplier"], signed.pk, note="改包装")
    assert exc.value.code == "illegal_transition"
    assert snapshot(signed) == before


def test_staff_may_amend(world):
    order = confirmed(world)
    contracts.amend_order(world.users["supplier_staff"], order.pk, note="分两批发货")
    assert contracts.current_contract(order).version == 2
    assert fresh(order).note == "分两批发货"


# ----------------------------------------------------------------------------------------------- tampering


def test_tampering_with_the_order_after_signing_shows(world):
    order = drive(world, listing_order(world), "contract_signed")
    contract = contracts.current_contract(order)
    assert contracts.signature_status(contract)["valid"]
    Order.objects.filter(pk=order.pk).update(unit_price=Decimal("1.00"), amount=Decimal("200.00"))
    status = contracts.signature_status(contract)
    assert status["intact"] and not status["matches_order"]
    assert not status["valid"] and not status["buyer"]["valid"] and not status["supplier"]["valid"]


def test_tampering_with_the_stored_contract_shows(world):
    order = drive(world, listing_order(world), "contract_signed")
    contract = contracts.current_contract(order)
    content = dict(contract.content, number="FORGED")
    Contract.objects.filter(pk=contract.pk).update(content=content)
    contract.refresh_from_db()
    status = contracts.signature_status(contract)
    assert not status["intact"] and not status["valid"]


def test_signing_refuses_when_the_order_changed_under_the_contract(world):
    order = confirmed(world)
    sign(world, order, "supplier")
    Order.objects.filter(pk=order.pk).update(quantity=Decimal("300"))
    before = snapshot(order)
    with pytest.raises(Conflict) as exc:
        sign(world, order, "buyer")
    assert exc.value.code == "contract_changed"
    assert snapshot(order) == before
    assert not contracts.signature_status(contracts.current_contract(order))["supplier"]["valid"]


def test_normal_progress_after_signing_keeps_the_signatures_valid(world):
    order = drive(world, listing_order(world), "closed")
    contract = contracts.current_contract(order)
    assert contract.version == 1
    assert contracts.signature_status(contract)["valid"]


def test_a_party_moving_office_does_not_undo_a_signed_contract(world):
    order = drive(world, listing_order(world), "contract_signed")
    Enterprise.objects.filter(pk=order.supplier_id).update(address="安溪县城厢镇新址 8 号", contact_phone="1")
    assert contracts.signature_status(contracts.current_contract(order))["valid"]


def test_party_details_changed_before_signing_are_reissued_by_an_empty_amendment(world):
    order = confirmed(world)
    Enterprise.objects.filter(pk=order.buyer_id).update(address="上海市浦东新区世纪大道 100 号")
    with pytest.raises(Conflict) as exc:
        sign(world, order, "buyer")
    assert exc.value.code == "contract_changed"
    contracts.amend_order(world.users["buyer"], order.pk)
    contract = contracts.current_contract(order)
    assert contract.version == 2
    assert contract.content["parties"]["buyer"]["address"] == "上海市浦东新区世纪大道 100 号"
    sign(world, order, "buyer")
    sign(world, order, "supplier")
    assert fresh(order).status == "contract_signed"


def test_one_user_admin_of_both_sides_signs_each_side_once(world):
    from chanlian.registry.models import Employment

    order = confirmed(world)
    Employment.objects.create(
        user=world.users["buyer"], enterprise=world.enterprises["supplier"], role="admin"
    )
    world.users["buyer"].__dict__.pop("_chanlian_principal", None)
    sign(world, order, "buyer")
    world.users["buyer"].__dict__.pop("_chanlian_principal", None)
    sign(world, order, "buyer")
    assert fresh(order).status == "contract_signed"
    sides = set(ContractSignature.objects.filter(contract__order=order).values_list("side", flat=True))
    assert sides == {"buyer", "supplier"}


@pytest.mark.parametrize(
    "change",
    [
        {"quantity": Decimal("201")},
        {"unit_price": Decimal("179.99")},
        {"delivery_address": "别处"},
        {"note": "另有约定"},
        {"payment_terms": "terms_90"},
        {"fee_rate": Decimal("0")},
        {"spec": {"grade": "premium"}},
        {"category": "finished_tea"},
        {"delivery_region_id": "350524"},
    ],
)
def test_any_change_to_the_signed_terms_shows(world, change):
    order = drive(world, listing_order(world), "contract_signed")
    contract = contracts.current_contract(order)
    assert contract.content["terms"]["reference"] == order.reference
    Order.objects.filter(pk=order.pk).update(**change)
    status = contracts.signature_status(contract)
    assert status["intact"] and not status["matches_order"] and not status["valid"]


def test_swapping_a_party_shows(market):
    order = drive(market, listing_order(market), "contract_signed")
    Order.objects.filter(pk=order.pk).update(buyer=market.enterprises["rival_buyer"])
    assert not contracts.signature_status(contracts.current_contract(order))["valid"]


def test_renaming_a_party_after_signing_keeps_the_signatures(world):
    order = drive(world, listing_order(world), "contract_signed")
    Enterprise.objects.filter(pk=order.buyer_id).update(name="上海茶商贸易（集团）有限公司")
    contract = contracts.current_contract(order)
    assert contracts.signature_status(contract)["valid"]
    assert contract.content["parties"]["buyer"]["name"] == "上海茶商贸易有限公司"  # the signed snapshot
