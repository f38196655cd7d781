"""Hypothesis drives a listing through random moves by random personas.

Invariants: the status is always one of the graph's; every move the graph allows for that persona
succeeds and lands where the table says; every other move by a persona who may act answers 409 (by one
who may not: 403 if it sees the listing, 404 if not) and leaves the row, its events and the audit log as
they were.
"""

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from chanlian.core.errors import ServiceError
from chanlian.core.models import AuditEntry
from chanlian.trade import services
from chanlian.trade.choices import LISTING_EDITABLE, LISTING_TRANSITIONS, OPERATOR, SUPPLIER, ListingStatus
from chanlian.trade.models import Listing, ListingEvent, PriceTier
from tests.trade.factories import make_listing

pytestmark = pytest.mark.django_db

# persona → (acts as supplier, operates the cluster)
PERSONAS = {
    "supplier": (True, False),
    "supplier_staff": (True, False),
    "supplier_viewer": (False, False),
    "operator": (False, True),
    "admin": (True, True),
    "rival": (False, False),
    "outsider": (False, False),
    "buyer": (False, False),
}
MOVES = {
    "publish": (ListingStatus.PUBLISHED, SUPPLIER),
    "pause": (ListingStatus.PAUSED, SUPPLIER),
    "close": (ListingStatus.CLOSED, SUPPLIER),
    "take_down": (ListingStatus.TAKEN_DOWN, OPERATOR),
}


def run(name, user, listing_id):
    if name == "publish":
        return services.publish_listing(user, listing_id)
    if name == "pause":
        return services.pause_listing(user, listing_id)
    if name == "close":
        return services.close_listing(user, listing_id, reason="机器测试")
    if name == "take_down":
        return services.take_down_listing(user, listing_id, reason="机器测试")
    return services.update_listing(user, listing_id, title=f"改 {AuditEntry.objects.count()}", moq="150")


def test_listing_state_machine(market):
    users = {name: market.users[name] for name in PERSONAS}

    class ListingMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.listing = make_listing(market)
            self.status = ListingStatus.DRAFT

        def state(self):
            return (
                Listing.objects.values().get(pk=self.listing.pk),
                list(
                    PriceTier.objects.filter(listing=self.listing).values_list("min_quantity", "unit_price")
                ),
                ListingEvent.objects.filter(listing=self.listing).count(),
                AuditEntry.objects.count(),
            )

        def expected(self, persona, move):
            """None if the move must succeed, else the error status it must answer with."""
            supplies, operates = PERSONAS[persona]
            sees = (
                supplies or operates or persona == "supplier_viewer" or self.status == ListingStatus.PUBLISHED
            )
            if move == "edit":
                role, legal = SUPPLIER, self.status in LISTING_EDITABLE
            else:
                target, role = MOVES[move]
                legal = LISTING_TRANSITIONS[self.status].get(target) == role
            may = supplies if role == SUPPLIER else operates
            if not may:
                return 403 if sees else 404
            return None if legal else 409

        @rule(persona=st.sampled_from(sorted(PERSONAS)), move=st.sampled_from([*MOVES, "edit"]))
        def act(self, persona, move):
            want = self.expected(persona, move)
            before = self.state()
            try:
                run(move, users[persona], self.listing.pk)
            except ServiceError as exc:
                assert want is not None, (persona, move, self.status, exc.code)
                assert exc.status == want, (persona, move, self.status, exc.code)
                if want == 409:
                    assert exc.code == ("not_editable" if move == "edit" else "illegal_transition")
                assert self.state() == before, (persona, move)
                return
            assert want is None, (persona, move, self.status)
            if move != "edit":
                self.status = MOVES[move][0]
            assert Listing.objects.get(pk=self.listing.pk).status == self.status

        @invariant()
        def status_is_in_the_graph(self):
            status = Listing.objects.get(pk=self.listing.pk).status
            assert status == self.status
            assert status in LISTING_TRANSITIONS
            events = list(
                ListingEvent.objects.filter(listing=self.listing)
                .order_by("id")
                .values_list("from_status", "to_status")
            )
            current = ListingStatus.DRAFT
            for frm, to in events:  # the history is a walk along the graph
                assert frm == current and to in LISTING_TRANSITIONS[frm]
                current = to
            assert current == status

    run_state_machine_as_test(
        ListingMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=15,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
