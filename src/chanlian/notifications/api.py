"""Notifications API: the signed-in user's own inbox. Another user's notification is 404."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from chanlian.core.api import Pagination

from . import selectors, services


def render(n) -> dict:
    title, body = n.render()
    return {
        "id": n.pk,
        "kind": n.kind,
        "title": title,
        "body": body,
        "url": n.url,
        "data": n.data,
        "enterprise": None if n.enterprise_id is None else {"id": n.enterprise_id, "name": n.enterprise.name},
        "cluster": n.cluster_id,
        "created_at": n.created_at.isoformat(),
        "read_at": None if n.read_at is None else n.read_at.isoformat(),
        "unread": n.read_at is None,
    }


class NotificationListView(APIView):
    """My notifications, newest first (``?unread=1`` for the unread ones only)."""

    @extend_schema(
        parameters=[OpenApiParameter("unread", bool, description="1: unread only; 0: read only")],
        responses={200: OpenApiTypes.OBJECT},
        operation_id="notifications_list",
    )
    def get(self, request):
        unread = selectors.parse_unread(request.query_params.get("unread"))
        qs = selectors.inbox(request.user, unread=unread)
        paginator = Pagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        response = paginator.get_paginated_response([render(n) for n in page])
        response.data["unread_count"] = selectors.unread_count(request.user)
        return response


class NotificationReadView(APIView):
    """Mark one of my notifications read (idempotent)."""

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT}, operation_id="notifications_read")
    def post(self, request, pk):
        n = services.mark_read(request.user, pk)
        n = selectors.inbox(request.user).get(pk=n.pk)
        return Response(render(n))


class NotificationReadAllView(APIView):
    """Mark all my unread notifications read."""

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT}, operation_id="notifications_read_all")
    def post(self, request):
        count = services.mark_all_read(request.user)
        return Response({"marked": count, "unread_count": selectors.unread_count(request.user)})
