"""``api_urlpatterns`` are mounted under /api/v1/; ``urlpatterns`` (the pages) under /finance/, namespace
"finance"."""

from django.urls import path

from . import api, lending_api, views, views_lending

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
    # lending: the applicant's side
    path("vouchers/<int:pk>/apply/", views_lending.apply, name="voucher-apply"),
    path("consents/", views_lending.consents, name="consents"),
    path("consents/new/", views_lending.consent_new, name="consent-new"),
    path("consents/<int:pk>/revoke/", views_lending.consent_revoke, name="consent-revoke"),
    path("applications/", views_lending.applications, name="applications"),
    path("applications/<int:pk>/", views_lending.application_detail, name="application"),
    path("applications/<int:pk>/<slug:action>/", views_lending.application_action, name="application-action"),
    # lending: the lender's side
    path("lender/", views_lending.lender_home, name="lender"),
    path("lender/products/", views_lending.lender_products, name="lender-products"),
    path(
        "lender/products/<int:pk>/active/", views_lending.lender_product_active, name="lender-product-active"
    ),
    path("lender/lines/", views_lending.lender_lines, name="lender-lines"),
    path("lender/lines/<int:pk>/", views_lending.lender_line_change, name="lender-line-change"),
]
