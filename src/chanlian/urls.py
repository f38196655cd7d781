from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from chanlian.core.api_views import AuditVerifyView, TokenView, healthz
from chanlian.finance.urls import api_urlpatterns as finance_api
from chanlian.finance.urls import urlpatterns as finance_pages
from chanlian.industry.urls import api_urlpatterns as industry_api
from chanlian.insights.urls import api_urlpatterns as insights_api
from chanlian.insights.urls import urlpatterns as insights_pages
from chanlian.ledger.urls import api_urlpatterns as ledger_api
from chanlian.ledger.urls import urlpatterns as ledger_pages
from chanlian.matching.urls import api_urlpatterns as matching_api
from chanlian.matching.urls import urlpatterns as matching_pages
from chanlian.notifications.urls import api_urlpatterns as notifications_api
from chanlian.notifications.urls import urlpatterns as notifications_pages
from chanlian.regions.urls import api_urlpatterns as regions_api
from chanlian.registry.urls import api_urlpatterns as registry_api
from chanlian.trade.urls import api_urlpatterns as trade_api
from chanlian.trade.urls import urlpatterns as trade_pages

api_v1 = [
    path("auth/token/", TokenView.as_view(), name="token"),
    path("audit/verify/", AuditVerifyView.as_view(), name="audit-verify"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    *regions_api,
    *industry_api,
    *registry_api,
    *ledger_api,
    # Before trade: /demands/{id}/matches/ and /listings/{id}/matches/ sit beside trade's routers.
    *matching_api,
    *trade_api,
    *finance_api,
    *notifications_api,
    *insights_api,
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include((api_v1, "api"))),
    path("i18n/", include("django.conf.urls.i18n")),
    path("django-admin/", admin.site.urls),
    path("ledger/", include((ledger_pages, "ledger"))),
    path("trade/", include((trade_pages, "trade"))),
    path("matching/", include((matching_pages, "matching"))),
    path("insights/", include((insights_pages, "insights"))),
    path("finance/", include((finance_pages, "finance"))),
    path("notifications/", include((notifications_pages, "notifications"))),
    path("", include("chanlian.web.urls")),
]

handler404 = "chanlian.core.api_views.not_found"
handler500 = "chanlian.core.api_views.server_error"
