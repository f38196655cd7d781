"""Core API endpoints: token login and the audit-chain check."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from . import reauth
from .audit import verify


class TokenView(ObtainAuthToken):
    """``POST /api/v1/auth/token/`` with username and password → ``{"token": "..."}``."""

    @extend_schema(
        request=inline_serializer(
            "TokenRequest", {"username": serializers.CharField(), "password": serializers.CharField()}
        ),
        responses=inline_serializer("TokenResponse", {"token": serializers.CharField()}),
    )
    def post(self, request, *args, **kwargs):
        username = request.data.get("username") if hasattr(request.data, "get") else None
        wait = reauth.retry_after(reauth.login_key(username)) if isinstance(username, str) and username else 0
        if wait:  # past the limit of wrong passwords (core.reauth): 429, whatever the password
            response = Response(reauth.refusal(wait).as_dict(), status=429)
            response["Retry-After"] = str(wait)
            return response
        return super().post(request, *args, **kwargs)


class AuditVerifyView(APIView):
    """Platform admins check the audit chains; the answer names the first broken entry, if any, and gives
    each chain's head and one digest over them (to keep outside the database)."""

    permission_classes = [IsAdminUser]

    @extend_schema(
        responses=inline_serializer(
            "AuditVerify",
            {
                "ok": serializers.BooleanField(),
                "checked": serializers.IntegerField(),
                "broken_chain": serializers.IntegerField(allow_null=True),
                "broken_seq": serializers.IntegerField(allow_null=True),
                "reason": serializers.CharField(),
                "chains": inline_serializer(
                    "AuditChainHead",
                    {
                        "chain": serializers.IntegerField(),
                        "seq": serializers.IntegerField(),
                        "hash": serializers.CharField(),
                    },
                    many=True,
                ),
                "digest": serializers.CharField(),
            },
        )
    )
    def get(self, request):
        return Response(verify().as_dict())


def healthz(request):
    """``/healthz``: the process answers and the database is reachable (for load balancers and scripts)."""
    from django.db import connection
    from django.http import HttpResponse, JsonResponse

    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
    except Exception:  # a broken database is exactly what this reports
        return JsonResponse({"status": "database unavailable"}, status=503)
    return HttpResponse("ok", content_type="text/plain")


def _wants_json(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    """A 404 under /api/ is JSON in the API's error shape; elsewhere it is the site's 404 page."""
    from django.http import JsonResponse
    from django.utils.translation import gettext
    from django.views.defaults import page_not_found

    if _wants_json(request):
        return JsonResponse({"code": "not_found", "detail": gettext("Not found.")}, status=404)
    return page_not_found(request, exception)


def server_error(request):
    from django.http import JsonResponse
    from django.utils.translation import gettext
    from django.views.defaults import server_error as default_server_error

    if _wants_json(request):
        return JsonResponse({"code": "server_error", "detail": gettext("Internal error.")}, status=500)
    return default_server_error(request)
