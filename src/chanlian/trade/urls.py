from rest_framework.routers import SimpleRouter

from .api import bulk as bulk_api
from .api import market as api
from .api import orders as orders_api
from .views import bulk, contracts, market, orders, photos

router = SimpleRouter(trailing_slash=True)
router.register("listings", api.ListingViewSet, basename="listing")
router.register("demands", api.DemandViewSet, basename="demand")
router.register("quotes", api.QuoteViewSet, basename="quote")

api_urlpatterns = [*bulk_api.api_urlpatterns, *router.urls, *orders_api.api_urlpatterns]

urlpatterns = [
    *photos.urlpatterns,
    *bulk.urlpatterns,
    *market.urlpatterns,
    *orders.urlpatterns,
    *contracts.urlpatterns,
]
