"""A tiny money-moving view under ``Idempotency-Key``, mounted beside the real URLs for the tests.

``POST /test/pay/`` with ``{"cluster", "amount"}`` posts an escrow deposit for the signed-in buyer and
counts how many times its body ran; ``amount`` ≤ 0 is refused (400), ``"conflict"`` answers a 409.
"""

from __future__ import annotations

import threading
from decimal import Decimal

from django.urls import path
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from chanlian.core.errors import InvalidInput
from chanlian.core.idempotency import idempotent
from chanlian.ledger.services import open_account, post_entry
from chanlian.registry.models import Cluster, Enterprise
from chanlian.urls import urlpatterns as project_urlpatterns

RUNS: list[int] = []
_lock = threading.Lock()


class PayView(APIView):
    @idempotent
    def post(self, request):
        with _lock:
            RUNS.append(1)
        if request.data.get("amount") == "conflict":
            return Response({"code": "conflict", "detail": "no"}, status=status.HTTP_409_CONFLICT)
        amount = Decimal(str(request.data.get("amount", "0")))
        if amount <= 0:
            raise InvalidInput("amount must be positive", code="invalid_amount")
        cluster = Cluster.objects.get(pk=request.data["cluster"])
        buyer = Enterprise.objects.get(employments__user=request.user)
        entry = post_entry(
            request.user,
            cluster=cluster,
            kind="escrow.deposit",
            reference=request.data.get("reference", ""),
            lines=[
                (open_account(cluster, "bank_clearing"), amount),
                (open_account(cluster, "escrow", buyer), -amount),
            ],
        )
        return Response(
            {"entry": entry.pk, "amount": f"{amount:.2f}", "currency": "CNY"}, status=status.HTTP_201_CREATED
        )


urlpatterns = [
    path("test/pay/", PayView.as_view()),
    path("test/pay-again/", PayView.as_view()),
    *project_urlpatterns,
]
