"""``api_urlpatterns`` are mounted under /api/v1/ (before trade's routers: the two ``matches/`` paths sit
beside trade's ``demands`` and ``listings`` routes, which define no ``matches`` action); ``urlpatterns``
(the pages) under /matching/, namespace "matching"."""

from django.urls import path

from . import api, views

api_urlpatterns = [
    path("matching/search/", api.ListingSearchView.as_view(), name="matching-search"),
    path("matching/filters/", api.SearchFiltersView.as_view(), name="matching-filters"),
    path("demands/<str:pk>/matches/", api.DemandMatchesView.as_view(), name="demand-matches"),
    path("listings/<str:pk>/matches/", api.ListingMatchesView.as_view(), name="listing-matches"),
]

urlpatterns = [
    path("search/", views.search_page, name="search"),
    path("demands/<int:pk>/", views.demand_matches_page, name="demand"),
    path("listings/<int:pk>/", views.listing_matches_page, name="listing"),
]
