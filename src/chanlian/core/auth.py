"""Sign-in with a limit on wrong passwords (``core.reauth``): the authentication backend used by the login
page, the admin and ``POST /api/v1/auth/token/``."""

from __future__ import annotations

from django.contrib.auth import forms as auth_forms
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils.translation import gettext_lazy
from rest_framework import authentication, exceptions

from . import reauth
from .db import Columns


class ThrottledModelBackend(ModelBackend):
    """``ModelBackend`` counting wrong passwords per username: past the limit, every try is refused
    (``PermissionDenied`` stops ``authenticate``) until the window has passed."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(self._username_field())
        if username is None or password is None:
            return None
        found = []

        def attempt() -> bool:
            user = ModelBackend.authenticate(self, request, username=username, password=password)
            found.append(user)
            return user is not None

        try:
            reauth.check(reauth.login_key(username), attempt)
        except reauth.TooManyAttempts as exc:
            raise PermissionDenied(str(exc.detail)) from exc
        return found[0] if found else None

    @staticmethod
    def _username_field() -> str:
        from django.contrib.auth import get_user_model

        return get_user_model().USERNAME_FIELD


class LoginForm(auth_forms.AuthenticationForm):
    """The login page's form: a locked-out username is told so (and when to try again), not "wrong
    password"."""

    def clean(self):
        username = self.cleaned_data.get("username")
        wait = reauth.retry_after(reauth.login_key(username)) if username else 0
        if wait:
            raise ValidationError(str(reauth.refusal(wait).detail), code="too_many_attempts")
        return super().clean()


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication (``Authorization: Token …``), the token and its user read by one plain
    ``SELECT … JOIN``: the queryset ``Token.objects.select_related("user").get(key=…)`` cost a tenth of
    an order placement's Python (bench/orders.py). Same answers: an unknown key or an inactive user is
    401 ``Invalid token.`` / ``User inactive or deleted.``, DRF's own words and translations."""

    _sql: dict[str, str] = {}

    def authenticate_credentials(self, key):
        token_model, user_model = self.get_model(), get_user_model()
        db = connections[DEFAULT_DB_ALIAS]
        tokens, users = Columns.of(token_model, "t"), Columns.of(user_model, "u")
        if db.vendor not in self._sql:
            qn = db.ops.quote_name
            user_fk = token_model._meta.get_field("user")
            self._sql[db.vendor] = (
                f"SELECT {tokens.sql}, {users.sql} FROM {qn(token_model._meta.db_table)} AS t "  # noqa: S608
                f"JOIN {qn(user_model._meta.db_table)} AS u ON u.{qn(user_model._meta.pk.column)} = "
                f"t.{qn(user_fk.column)} WHERE t.{qn(token_model._meta.pk.column)} = %s"
            )
        with db.cursor() as cur:
            cur.execute(self._sql[db.vendor], [str(key)])
            row = cur.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed(gettext_lazy("Invalid token."))
        token, user = tokens.instance(row), users.instance(row, start=len(tokens))
        if not user.is_active:
            raise exceptions.AuthenticationFailed(gettext_lazy("User inactive or deleted."))
        token.user = user
        return user, token
