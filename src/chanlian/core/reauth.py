"""Password checks that an attacker cannot repeat at will: sign-in and the password re-entered to sign a
contract or confirm a receivable.

After ``MAX_FAILURES`` wrong passwords for one key within ``WINDOW``, every further try — right or wrong —
is refused with 429 ``too_many_attempts`` until the oldest failure in the window ages out; a right password
clears the key's failures. The keys: ``login:<username, lower-cased>`` for sign-in (the account need not
exist, so the answer does not tell which usernames exist) and ``user:<id>`` for a re-entered password.

The failures are rows (``core.PasswordFailure``), so every process of ``chanlian serve`` counts the same
ones, on SQLite and on PostgreSQL. Each check runs in its own short transaction that locks the key's
failures (PostgreSQL: the user row, or an advisory lock for a sign-in key), so that concurrent tries cannot
all slip under the limit. ``verify_password`` must be called **before** the service's own transaction:
the service's refusal would otherwise roll the recorded failure back.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .errors import InvalidInput, TooManyAttempts
from .models import PasswordFailure

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)


def login_key(username: str) -> str:
    return f"login:{(username or '').strip().lower()[:150]}"


def user_key(user) -> str:
    return f"user:{user.pk}"


def _lock(key: str) -> None:
    """Serialise the checks of one key (PostgreSQL); SQLite serialises every write transaction already."""
    if connection.vendor == "postgresql":
        h = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [h])


def retry_after(key: str) -> int:
    """Seconds until a try is allowed again for ``key`` (0: allowed now)."""
    now = timezone.now()
    window = PasswordFailure.objects.filter(key=key, at__gt=now - WINDOW).order_by("-at")
    recent = list(window.values_list("at", flat=True)[:MAX_FAILURES])
    if len(recent) < MAX_FAILURES:
        return 0
    return max(1, int((recent[-1] + WINDOW - now).total_seconds()) + 1)


def refusal(seconds: int) -> TooManyAttempts:
    minutes = max(1, (seconds + 59) // 60)
    return TooManyAttempts(
        _("Too many wrong passwords. Try again in %(minutes)d minutes.") % {"minutes": minutes},
        fields={"retry_after": str(seconds)},
    )


def check(key: str, attempt) -> bool:
    """Run ``attempt()`` (True: the password was right) under the limit for ``key``: raises
    ``TooManyAttempts`` past the limit without calling it; records a failure or clears the key."""
    with transaction.atomic():
        _lock(key)
        wait = retry_after(key)
        if wait:
            blocked = True
        else:
            blocked = False
            ok = bool(attempt())
            if ok:
                PasswordFailure.objects.filter(key=key).delete()
            else:
                now = timezone.now()
                PasswordFailure.objects.create(key=key, at=now)
                PasswordFailure.objects.filter(key=key, at__lte=now - WINDOW).delete()
    if blocked:
        raise refusal(wait)
    return ok


def verify_password(user, password) -> None:
    """The re-entered password of ``user``: returns if right; raises 400 ``wrong_password`` or 429
    ``too_many_attempts``. Call it before the service's transaction (see the module's note)."""
    ok = check(
        user_key(user), lambda: isinstance(password, str) and bool(password) and user.check_password(password)
    )
    if not ok:
        raise InvalidInput(
            _("The password is wrong."), code="wrong_password", fields={"password": _("Wrong password.")}
        )
