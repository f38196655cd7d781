"""Core API endpoints: token login and the audit-chain check."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from .audit import verify


class TokenView(ObtainAuthToken):
    """``POST /api/v1/auth/token/`` with username and password → ``{"token": "..."}``."""

    @extend_schema(
        request=inline_serializer("TokenRequest", {"username": serializers.CharField(),
                                                   "password": serializers.CharField()}),
        responses=inline_serializer("TokenResponse", {"token": serializers.CharField()}),
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class AuditVerifyView(APIView):
    """Platform admins check the audit chain; the answer names the first broken entry, if any."""

    permission_classes = [IsAdminUser]

    @extend_schema(responses=inline_serializer("AuditVerify", {
        "ok": serializers.BooleanField(), "checked": serializers.IntegerField(),
        "broken_seq": serializers.IntegerField(allow_null=True), "reason": serializers.CharField()}))
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
