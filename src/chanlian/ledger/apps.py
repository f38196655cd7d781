from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "chanlian.ledger"
    label = "ledger"
    verbose_name = "Settlement ledger"
