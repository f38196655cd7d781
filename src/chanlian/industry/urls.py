"""Mounted by the project under ``/api/v1/``: ``industry-packs/`` and ``industry-packs/<key>/``."""

from rest_framework.routers import SimpleRouter

from .api import IndustryPackViewSet

router = SimpleRouter(trailing_slash=True)
router.register("industry-packs", IndustryPackViewSet, basename="industry-pack")

api_urlpatterns = list(router.urls)

# No pages of its own; ``urlpatterns`` lets the module be include()d like any other app.
urlpatterns: list = []
