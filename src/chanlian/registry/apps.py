from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "chanlian.registry"
    label = "registry"
    verbose_name = "Clusters and registry"

    def ready(self):
        from . import policies  # noqa: F401  (registers the permission policies)
