from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views
from .api import market as api

router = SimpleRouter(trailing_slash=True)
router.register("listings", api.ListingViewSet, basename="listing")
router.register("demands", api.DemandViewSet, basename="demand")
router.register("quotes", api.QuoteViewSet, basename="quote")

api_urlpatterns = [*router.urls]

urlpatterns = [
    path("photos/<int:pk>/", views.photo_file, name="photo"),
]
