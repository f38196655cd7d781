"""Sign-in with a limit on wrong passwords (``core.reauth``): the authentication backend used by the login
page, the admin and ``POST /api/v1/auth/token/``."""

from __future__ import annotations

from django.contrib.auth import forms as auth_forms
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied, ValidationError

from . import reauth


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
