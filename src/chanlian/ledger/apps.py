from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "chanlian.ledger"
    label = "ledger"
    verbose_name = "Settlement ledger"

    def ready(self):
        from . import policies  # noqa: F401  (registers the permission policies)
