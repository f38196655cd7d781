from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegionsConfig(AppConfig):
    name = "chanlian.regions"
    label = "regions"
    verbose_name = _("Regions")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the Region view policy with the permission chokepoint.
        from . import selectors  # noqa: F401
