"""Notification reads: a user's own inbox only (``restrict``), newest first."""

from __future__ import annotations

from django.utils.translation import gettext as _

from chanlian.core.errors import InvalidInput
from chanlian.core.params import path_id
from chanlian.core.permissions import one_or_404, restrict

from .models import Notification


def parse_unread(value) -> bool | None:
    """``unread=1|true`` → only unread, ``0|false`` → only read, absent → all."""
    if value in (None, ""):
        return None
    text = str(value).strip().lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no"):
        return False
    raise InvalidInput(_("unread is 1 or 0."), code="invalid_unread", fields={"unread": text[:20]})


def inbox(user, *, unread: bool | None = None):
    qs = restrict(Notification, user).select_related("enterprise").order_by("-created_at", "-id")
    if unread is True:
        qs = qs.filter(read_at__isnull=True)
    elif unread is False:
        qs = qs.filter(read_at__isnull=False)
    return qs


def notification(user, notification_id) -> Notification:
    return one_or_404(restrict(Notification, user), pk=path_id(notification_id))


def unread_count(user) -> int:
    """One query for a signed-in user; none for anyone else."""
    if user is None or not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(recipient_user_id=user.pk, read_at__isnull=True).count()
