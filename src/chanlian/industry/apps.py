from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IndustryConfig(AppConfig):
    name = "chanlian.industry"
    label = "industry"
    verbose_name = _("Industry packs")
    default_auto_field = "django.db.models.BigAutoField"
