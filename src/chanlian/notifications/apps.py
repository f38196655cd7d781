from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "chanlian.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self):
        from . import policies, signals  # noqa: F401  (the permission rule; demands notify their matches)
