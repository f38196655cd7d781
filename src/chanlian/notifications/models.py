"""A notification to one user, on behalf of one of its enterprises.

``title`` and ``body`` are written once, in the platform's default language, for channels that cannot
translate later (e-mail, SMS); the pages and the API render them again from ``kind`` and ``data`` in the
reader's language (``Notification.render``). ``key`` makes a notification unique per recipient and kind:
``demand:<id>:enterprise:<id>`` for a new demand, so a demand notifies each enterprise's users once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class NotificationKind(models.TextChoices):
    DEMAND_MATCH = "demand_match", _("A new demand matches your listing")


class Notification(models.Model):
    recipient_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    enterprise = models.ForeignKey(
        "registry.Enterprise", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    cluster = models.ForeignKey(
        "registry.Cluster", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=32, choices=NotificationKind.choices)
    key = models.CharField(max_length=100)
    title = models.CharField(_("title"), max_length=300)
    body = models.TextField(_("body"), blank=True)
    url = models.CharField(_("link"), max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [
            models.UniqueConstraint(fields=["recipient_user", "kind", "key"], name="notification_once"),
        ]
        indexes = [
            models.Index(fields=["recipient_user", "read_at"], name="notification_unread"),
            models.Index(fields=["recipient_user", "-created_at"], name="notification_inbox"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.recipient_user_id}: {self.title}"

    @property
    def unread(self) -> bool:
        return self.read_at is None

    def render(self) -> tuple[str, str]:
        """(title, body) in the active language, from ``kind`` and ``data``; the stored text otherwise."""
        from .messages import render

        return render(self)
