"""Mounted by the project under ``/api/v1/``: ``regions/`` and ``regions/<code>/``."""

from rest_framework.routers import SimpleRouter

from .api import RegionViewSet

router = SimpleRouter(trailing_slash=True)
router.register("regions", RegionViewSet, basename="region")

api_urlpatterns = list(router.urls)

# No pages of its own; ``urlpatterns`` lets the module be include()d like any other app.
urlpatterns: list = []
