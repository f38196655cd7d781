"""Concurrent wrong passwords against one user (PostgreSQL, where the advisory lock is real)."""

from __future__ import annotations

import pytest

from chanlian.core import reauth
from chanlian.core.models import PasswordFailure
from tests.personas import build_world
from tests.racing import postgres_only, race  # noqa: F401 (autouse fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_wrong_passwords_cannot_slip_under_the_limit():
    world = build_world()
    user = world.users["supplier"]
    results = race(12, lambda i: reauth.verify_password(user, f"wrong-{i}"))
    codes = sorted(r[1] for r in results)
    assert codes == ["too_many_attempts"] * 7 + ["wrong_password"] * 5, results
    assert PasswordFailure.objects.filter(key=reauth.user_key(user)).count() == reauth.MAX_FAILURES
