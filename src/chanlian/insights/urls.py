"""``api_urlpatterns`` are mounted under /api/v1/; ``urlpatterns`` (the pages) under /insights/, namespace
"insights". Each chart answers JSON, CSV with ``?format=csv`` or the ``.csv`` suffix, or an Excel workbook
with ``?format=xlsx`` or the ``.xlsx`` suffix."""

from django.urls import path

from . import api, api_chain, api_index, views, views_chain, views_index

CHARTS = [
    ("monthly", api.MonthlyView),
    ("categories", api.CategoriesView),
    ("grades", api.GradesView),
    ("origins", api.OriginsView),
    ("supply-demand", api.SupplyDemandView),
    ("financing", api.FinancingView),
    ("mine", api.MineView),
]

api_urlpatterns = [
    route
    for chart, view in CHARTS
    for route in (
        path(f"insights/clusters/<str:pk>/{chart}/", view.as_view(), name=f"insights-{chart}"),
        *(
            path(
                f"insights/clusters/<str:pk>/{chart}.{fmt}",
                view.as_view(),
                {"format": fmt},
                name=f"insights-{chart}-{fmt}",
            )
            for fmt in api.DOWNLOADS
        ),
    )
]
api_urlpatterns += api_index.api_urlpatterns + api_chain.api_urlpatterns

urlpatterns = [
    path("clusters/<int:pk>/", views.cockpit_page, name="cockpit"),
    *views_index.urlpatterns,
    *views_chain.urlpatterns,
]
