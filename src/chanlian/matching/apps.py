from django.apps import AppConfig


class MatchingConfig(AppConfig):
    name = "chanlian.matching"
    label = "matching"
    verbose_name = "Supply–demand matching"

    def ready(self):
        from . import policies, signals  # noqa: F401  (policies; the search index in step with listings)
