from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "chanlian.web"
    label = "web"
    verbose_name = "Web UI"
