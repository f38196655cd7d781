from django.apps import AppConfig


class FinanceConfig(AppConfig):
    name = "chanlian.finance"
    label = "finance"
    verbose_name = "Supply-chain finance"

    def ready(self):
        from . import policies  # noqa: F401  (registers the permission policies)
