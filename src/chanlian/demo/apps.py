from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "chanlian.demo"
    label = "demo"
    verbose_name = "Demo data"
