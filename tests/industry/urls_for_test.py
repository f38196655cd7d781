"""Mounts the industry-pack API as the project will (``/api/v1/``), independent of chanlian.urls."""

from django.urls import include, path

from chanlian.industry.urls import api_urlpatterns

urlpatterns = [path("api/v1/", include(api_urlpatterns))]
