"""Privacy of orders at the service and selector level: a third enterprise — another tea supplier, a buyer
from elsewhere, an enterprise of another cluster, another cluster's operator — gets 404 from every service
and sees nothing in the selectors, exactly as for a missing order; and the selectors' own answers."""

from decimal import Decimal

import pytest
from django.utils import timezone

from chanlian.core.errors import NotFound, ServiceError
from chanlian.trade import selectors, services
from chanlian.trade.models import Order
from tests.trade.order_steps import PASSWORD, award_order, drive, listing_order, published_listing, step
from tests.trade.test_orders import counts

pytestmark = pytest.mark.django_db

STRANGERS = ("outsider", "rival", "rival_buyer", "steel_operator", "nobody", "gov", "lender")


def every_service(order_id):
    today = timezone.localdate()
    return {
        "confirm": lambda u: services.confirm_order(u, order_id),
        "cancel": lambda u: services.cancel_order(u, order_id, reason="x"),
        "pay_from_cash": lambda u: services.pay_order_from_cash(u, order_id),
        "ship": lambda u: services.ship_order(u, order_id, carrier="顺丰", waybill="W1", quantity="1"),
        "deliver": lambda u: services.record_delivery(u, order_id),
        "accept": lambda u: services.accept_order(
            u, order_id, accepted_quantity="1", quality_grade="grade_1"
        ),
        "dispute": lambda u: services.open_dispute(u, order_id, reason="x"),
        "decide": lambda u: services.decide_dispute(u, order_id, decision="refund", reason="x"),
        "confirm_transfer": lambda u: services.confirm_transfer(
            u, order_id, amount="1", bank_reference="x", received_on=today
        ),
        "sign": lambda u: services.sign_contract(u, order_id, password=PASSWORD, content_hash="0" * 64),
        "amend": lambda u: services.amend_order(u, order_id, note="x"),
        "order_for": lambda u: selectors.order_for(u, order_id),
    }


@pytest.mark.parametrize("at", ["created", "contract_signed", "paid", "delivered", "disputed", "accepted"])
def test_strangers_get_404_from_every_service(market, at):
    terms = "terms_30" if at == "accepted" else "escrow"
    order = drive(market, listing_order(market, quantity="200", payment_terms=terms), at)
    missing = Order.objects.order_by("-pk").first().pk + 1000
    for name in STRANGERS:
        user = market.users[name]
        for service, call in every_service(order.pk).items():
            before = counts()
            with pytest.raises(ServiceError) as exc:
                call(user)
            assert exc.value.code == "not_found", (name, service, exc.value.code)
            assert counts() == before, (name, service)
        assert not selectors.orders(user).filter(pk=order.pk).exists()
    # and a missing order answers the same as a foreign one
    for service, call in every_service(missing).items():
        with pytest.raises(NotFound):
            call(market.users["buyer"])


def test_award_orders_are_private_too(market):
    order = award_order(market)
    for name in STRANGERS:
        with pytest.raises(NotFound):
            selectors.order_for(market.users[name], order.pk)


def test_orders_selector(market):
    listing = published_listing(market)
    mine = listing_order(market, listing=listing, quantity="200")
    rival_buys = listing_order(market, listing=listing, quantity="100", buyer="rival_buyer")
    supplier, buyer = market.users["supplier"], market.users["buyer"]
    assert set(selectors.orders(supplier).values_list("pk", flat=True)) == {mine.pk, rival_buys.pk}
    assert set(selectors.orders(market.users["supplier_viewer"]).values_list("pk", flat=True)) == {
        mine.pk,
        rival_buys.pk,
    }
    assert list(selectors.orders(buyer).values_list("pk", flat=True)) == [mine.pk]
    assert list(selectors.orders(market.users["rival_buyer"]).values_list("pk", flat=True)) == [rival_buys.pk]
    assert not selectors.orders(buyer, role="supplier").exists()
    assert selectors.orders(buyer, role="buyer").count() == 1
    assert selectors.orders(supplier, status="created").count() == 2
    assert selectors.orders(supplier, status="paid").count() == 0
    assert selectors.orders(supplier, cluster=market.clusters["steel"].pk).count() == 0
    assert selectors.orders(market.users["admin"]).count() == 2
    assert not selectors.orders(market.users["operator"]).exists()  # no dispute: not the operator's
    for bad, code in (({"role": "boss"}, "invalid_role"), ({"status": "lost"}, "invalid_status")):
        with pytest.raises(ServiceError) as exc:
            selectors.orders(buyer, **bad)
        assert exc.value.code == code
    with pytest.raises(ServiceError) as exc:
        selectors.orders(buyer, cluster="x")
    assert exc.value.code == "invalid_cluster"


def test_order_for_prefetches_what_a_page_shows(market, django_assert_max_num_queries):
    order = drive(market, listing_order(market, quantity="200"), "delivered")
    buyer = market.users["buyer"]
    selectors.order_for(buyer, order.pk)  # warm the principal
    with django_assert_max_num_queries(8):
        row = selectors.order_for(buyer, order.pk)
        assert len(row.events.all()) == 5
        assert len(row.shipments.all()) == 1 and len(row.payments.all()) == 1
        assert len(row.invoices.all()) == 0
        assert [c.version for c in row.contracts.all()] == [1]
        assert len(row.contracts.all()[0].signatures.all()) == 2
    with pytest.raises(NotFound):
        selectors.order_for(buyer, "abc")


def actions(market, name, order):
    user = market.users[name]
    user.__dict__.pop("_chanlian_principal", None)
    return selectors.order_actions(user, Order.objects.get(pk=order.pk))


def test_order_actions_follow_the_state(market):
    order = listing_order(market, quantity="200")
    assert actions(market, "supplier", order) == ["confirm", "cancel"]
    assert actions(market, "buyer", order) == ["cancel"]
    assert actions(market, "supplier_viewer", order) == []
    assert actions(market, "operator", order) == []
    assert actions(market, "outsider", order) == []
    order = step(market, order, "confirmed")
    assert actions(market, "supplier", order) == ["cancel", "sign", "amend"]
    assert actions(market, "supplier_staff", order) == ["cancel", "amend"]  # staff do not sign
    assert actions(market, "buyer", order) == ["cancel", "sign", "amend"]
    order = step(market, order, "contract_signed")
    assert actions(market, "buyer", order) == ["cancel", "pay_from_cash"]
    assert "record_invoice" in actions(market, "supplier", order)
    assert actions(market, "operator", order) == ["confirm_transfer"]
    order = step(market, order, "paid")
    assert actions(market, "supplier", order) == ["cancel", "ship", "record_invoice"]
    assert actions(market, "operator", order) == []
    services.ship_order(market.users["supplier"], order.pk, carrier="顺丰", waybill="P1", quantity="100")
    assert actions(market, "supplier", order) == ["ship", "deliver", "record_invoice"]
    assert actions(market, "buyer", order) == ["deliver"]
    services.ship_order(market.users["supplier"], order.pk, carrier="顺丰", waybill="P2", quantity="100")
    assert actions(market, "supplier", order) == ["deliver", "record_invoice"]
    order = step(market, order, "delivered")
    assert actions(market, "buyer", order) == ["accept", "dispute"]
    order = step(market, order, "disputed")
    assert actions(market, "operator", order) == ["decide"]
    assert actions(market, "buyer", order) == []
    order = step(market, order, "settled", decision="split", supplier_amount=Decimal("100"))
    assert actions(market, "buyer", order) == []
    assert actions(market, "operator", order) == []
