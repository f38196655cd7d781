"""``api_urlpatterns`` are mounted under /api/v1/; ``urlpatterns`` (the pages) under /finance/, namespace
"finance"."""

from django.urls import path

from . import api, lending_api, views

api_urlpatterns = [*api.router.urls, *lending_api.router.urls]

urlpatterns = [
    path("", views.home, name="index"),
    path("receivables/register/", views.receivable_register, name="receivable-register"),
    path("receivables/<int:pk>/", views.receivable_detail, name="receivable"),
    path("receivables/<int:pk>/confirm/", views.receivable_confirm, name="receivable-confirm"),
    path("vouchers/<int:pk>/", views.voucher_detail, name="voucher"),
    path("vouchers/<int:pk>/split/", views.voucher_split, name="voucher-split"),
    path("vouchers/<int:pk>/transfer/", views.voucher_transfer, name="voucher-transfer"),
    path("vouchers/<int:pk>/accept/", views.voucher_accept, name="voucher-accept"),
    path("vouchers/<int:pk>/decline/", views.voucher_decline, name="voucher-decline"),
    path("vouchers/<int:pk>/withdraw/", views.voucher_withdraw, name="voucher-withdraw"),
]
