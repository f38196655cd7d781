from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "chanlian.core"
    label = "core"
    verbose_name = "Chanlian core"
