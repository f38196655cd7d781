"""``api_urlpatterns`` are mounted under /api/v1/; ``urlpatterns`` (the pages) under /ledger/, namespace
"ledger"."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api, views

router = SimpleRouter(trailing_slash=True)
router.register("ledger/accounts", api.AccountViewSet, basename="ledger-account")

api_urlpatterns = [
    *router.urls,
    path("ledger/trial-balance/", api.TrialBalanceView.as_view(), name="ledger-trial-balance"),
    path("ledger/export.beancount", api.BeancountExportView.as_view(), name="ledger-export"),
]

urlpatterns = [
    path("", views.accounts, name="accounts"),
    path("clusters/<int:pk>/trial-balance/", views.trial_balance, name="trial-balance"),
    path("accounts/<int:pk>/", views.account, name="account"),
]
