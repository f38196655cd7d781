"""``api_urlpatterns`` are mounted under /api/v1/; ``urlpatterns`` (the page) under /notifications/,
namespace "notifications"."""

from django.urls import path

from . import api, views

api_urlpatterns = [
    path("notifications/", api.NotificationListView.as_view(), name="notifications"),
    path("notifications/read-all/", api.NotificationReadAllView.as_view(), name="notifications-read-all"),
    path("notifications/<str:pk>/read/", api.NotificationReadView.as_view(), name="notification-read"),
]

urlpatterns = [
    path("", views.inbox, name="index"),
    path("read-all/", views.read_all, name="read-all"),
    path("<int:pk>/read/", views.read, name="read"),
]
