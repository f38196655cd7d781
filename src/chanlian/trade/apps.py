from django.apps import AppConfig


class TradeConfig(AppConfig):
    name = "chanlian.trade"
    label = "trade"
    verbose_name = "B2B trading"

    def ready(self):
        from . import policies  # noqa: F401  (registers the permission policies)
