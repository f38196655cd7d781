"""Wrong passwords are limited (core.reauth): sign-in on the page and the token endpoint, and the password
re-entered to sign a contract. Five wrong ones within 15 minutes lock the key; then even the right
password is refused (429 ``too_many_attempts``) until the oldest failure is older than the window."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from chanlian.core import reauth
from chanlian.core.errors import InvalidInput, ServiceError
from chanlian.core.models import PasswordFailure
from chanlian.trade.models import ContractSignature
from chanlian.trade.services import contracts
from tests.trade.order_steps import PASSWORD, drive, listing_order

pytestmark = pytest.mark.django_db


def _age(key: str, minutes: int) -> None:
    PasswordFailure.objects.filter(key=key).update(at=timezone.now() - timedelta(minutes=minutes))


def _sign(world, order, password):
    digest = contracts.current_contract(order).content_hash
    return contracts.sign_contract(world.users["supplier"], order.pk, password=password, content_hash=digest)


def _code(fn, *args) -> tuple[int, str]:
    try:
        fn(*args)
    except ServiceError as exc:
        return exc.status, exc.code
    return 200, "ok"


def test_signing_locks_after_five_wrong_passwords_and_the_failures_survive_the_refusal(world):
    order = drive(world, listing_order(world), "confirmed")
    for _ in range(reauth.MAX_FAILURES):
        assert _code(_sign, world, order, "wrong-pass") == (400, "wrong_password")
    key = reauth.user_key(world.users["supplier"])
    assert PasswordFailure.objects.filter(key=key).count() == reauth.MAX_FAILURES
    # Locked: the right password is refused too, nothing is signed, no failure is added.
    assert _code(_sign, world, order, PASSWORD) == (429, "too_many_attempts")
    assert not ContractSignature.objects.filter(contract__order=order).exists()
    assert PasswordFailure.objects.filter(key=key).count() == reauth.MAX_FAILURES
    assert 0 < reauth.retry_after(key) <= 15 * 60 + 1
    # Another user is not affected.
    assert reauth.retry_after(reauth.user_key(world.users["buyer"])) == 0
    # Once the failures are older than the window, the right password signs and clears the key.
    _age(key, 16)
    assert _sign(world, order, PASSWORD).pk
    assert ContractSignature.objects.filter(contract__order=order).count() == 1
    assert not PasswordFailure.objects.filter(key=key).exists()


def test_a_right_password_resets_the_count(world):
    order = drive(world, listing_order(world), "confirmed")
    user = world.users["supplier"]
    for _ in range(reauth.MAX_FAILURES - 1):
        with pytest.raises(InvalidInput):
            reauth.verify_password(user, "nope-nope")
    reauth.verify_password(user, PASSWORD)
    for _ in range(reauth.MAX_FAILURES - 1):
        with pytest.raises(InvalidInput):
            reauth.verify_password(user, "nope-nope")
    assert _sign(world, order, PASSWORD).pk


@pytest.mark.parametrize("password", [None, "", 12345678])
def test_a_missing_or_non_text_password_is_a_wrong_password(world, password):
    with pytest.raises(InvalidInput) as info:
        reauth.verify_password(world.users["supplier"], password)
    assert info.value.code == "wrong_password"


def test_the_login_page_locks_a_username_and_says_so(world, client):
    for _ in range(reauth.MAX_FAILURES):
        r = client.post("/login/", {"username": "supplier", "password": "wrong-pass"})
        assert r.status_code == 200 and "_auth_user_id" not in client.session
        assert r.context["form"].errors.as_data()["__all__"][0].code == "invalid_login"
    r = client.post("/login/", {"username": "SUPPLIER ", "password": PASSWORD})
    assert "_auth_user_id" not in client.session
    assert r.context["form"].errors.as_data()["__all__"][0].code == "too_many_attempts"
    # A username that does not exist is limited the same way (the answer does not tell which exist).
    for _ in range(reauth.MAX_FAILURES):
        client.post("/login/", {"username": "nobody-here", "password": "wrong-pass"})
    assert reauth.retry_after(reauth.login_key("nobody-here")) > 0
    _age(reauth.login_key("supplier"), 16)
    r = client.post("/login/", {"username": "supplier", "password": PASSWORD})
    assert r.status_code == 302 and client.session["_auth_user_id"] == str(world.users["supplier"].pk)


def test_the_token_endpoint_answers_429_with_retry_after(world):
    api = APIClient()
    for _ in range(reauth.MAX_FAILURES):
        r = api.post("/api/v1/auth/token/", {"username": "buyer", "password": "wrong"}, format="json")
        assert r.status_code == 400
    r = api.post("/api/v1/auth/token/", {"username": "buyer", "password": PASSWORD}, format="json")
    assert r.status_code == 429 and r.json()["code"] == "too_many_attempts"
    assert 0 < int(r["Retry-After"]) <= 15 * 60 + 1
    assert "token" not in r.json()
    # The supplier, never wrong, still gets its token.
    r = api.post("/api/v1/auth/token/", {"username": "supplier", "password": PASSWORD}, format="json")
    assert r.status_code == 200 and r.json()["token"]


def test_the_sign_api_answers_429_when_locked(world):
    order = drive(world, listing_order(world), "confirmed")
    api = APIClient()
    api.force_authenticate(world.users["supplier"])
    digest = contracts.current_contract(order).content_hash
    url = f"/api/v1/orders/{order.pk}/contract/sign/"
    for _ in range(reauth.MAX_FAILURES):
        r = api.post(url, {"password": "wrong-pass", "content_hash": digest}, format="json")
        assert r.status_code == 400 and r.json()["code"] == "wrong_password", r.json()
    r = api.post(url, {"password": PASSWORD, "content_hash": digest}, format="json")
    assert r.status_code == 429 and r.json()["code"] == "too_many_attempts"
    assert int(r["Retry-After"]) > 0


def test_the_sign_page_shows_the_lock_on_the_page(world, client):
    order = drive(world, listing_order(world), "confirmed")
    client.force_login(world.users["supplier"])
    digest = contracts.current_contract(order).content_hash
    url = f"/trade/orders/{order.pk}/contract/sign/"
    for _ in range(reauth.MAX_FAILURES):
        r = client.post(url, {"password": "wrong-pass", "content_hash": digest})
        assert r.status_code == 400
    r = client.post(url, {"password": PASSWORD, "content_hash": digest})
    assert r.status_code == 429
    assert b'name="content_hash"' in r.content  # the contract page with its form, not an error page
    assert not ContractSignature.objects.filter(contract__order=order).exists()


def test_confirming_a_receivable_is_limited_too_and_a_non_debtor_is_refused_before_the_password(world):
    from chanlian.finance import services as finance
    from chanlian.finance.models import Voucher
    from tests.finance.helpers import registered

    receivable = registered(world)
    buyer = world.users["buyer"]

    # the supplier is not the debtor: 403 whatever the password, and no failure is counted for it
    def confirm(user, password):
        return finance.confirm_receivable(user, receivable.pk, password=password)

    assert _code(confirm, world.users["supplier"], "wrong-pass")[1] == "not_debtor"
    assert not PasswordFailure.objects.filter(key=reauth.user_key(world.users["supplier"])).exists()
    for _ in range(reauth.MAX_FAILURES):
        assert _code(confirm, buyer, "wrong-pass") == (400, "wrong_password")
    assert _code(confirm, buyer, PASSWORD) == (429, "too_many_attempts")
    assert not Voucher.objects.exists()
    _age(reauth.user_key(buyer), 16)
    assert finance.confirm_receivable(buyer, receivable.pk, password=PASSWORD).pk
