"""Ledger API: read-only and thin. Money is a string with two decimals, its currency alongside.

There is deliberately no endpoint that posts an entry: money moves only through the business services
(trade, finance) that decide why it moves.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.http import HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from chanlian.core.api import ScopedObjectMixin
from chanlian.core.errors import InvalidInput
from chanlian.core.params import parse_id

from . import selectors
from .choices import AccountCode, AccountType, Side
from .export import beancount_export
from .models import Account


def money(value) -> str:
    return f"{selectors.fen(value):.2f}"


def parse_day(value, field: str, default: date) -> date:
    if value in (None, ""):
        return default
    text = str(value).strip()
    parsed = None
    try:
        parsed = parse_date(text) if len(text) == 10 else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise InvalidInput(
            _("%(field)s must be a date (YYYY-MM-DD).") % {"field": field},
            code="invalid_date",
            fields={field: text[:40]},
        )
    return parsed


# ----------------------------------------------------------------- output


class AccountSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    cluster = serializers.IntegerField(source="cluster_id")
    enterprise = serializers.IntegerField(source="enterprise_id", allow_null=True)
    enterprise_name = serializers.SerializerMethodField()
    code = serializers.ChoiceField(choices=AccountCode.choices)
    type = serializers.ChoiceField(choices=AccountType.choices)
    normal_side = serializers.ChoiceField(choices=Side.choices)
    name = serializers.CharField()
    currency = serializers.CharField()
    balance = serializers.SerializerMethodField(help_text="balance on the account's normal side")
    signed_balance = serializers.SerializerMethodField(help_text="sum of the lines: debit positive")

    def _signed(self, obj):
        return self.context["balances"].get(obj.pk, selectors.ZERO)

    def get_enterprise_name(self, obj) -> str | None:
        return obj.enterprise.name if obj.enterprise_id else None

    def get_balance(self, obj) -> str:
        return money(self._signed(obj) * obj.normal_sign)

    def get_signed_balance(self, obj) -> str:
        return money(self._signed(obj))


class StatementLineSerializer(serializers.Serializer):
    entry = serializers.IntegerField(source="entry_id")
    line = serializers.IntegerField(source="line_id")
    posted_at = serializers.DateTimeField()
    kind = serializers.CharField()
    memo = serializers.CharField()
    reference = serializers.CharField()
    reverses = serializers.IntegerField(source="reverses_id", allow_null=True)
    amount = serializers.SerializerMethodField(help_text="signed: debit positive")
    debit = serializers.SerializerMethodField()
    credit = serializers.SerializerMethodField()
    balance = serializers.SerializerMethodField(help_text="running balance on the account's normal side")

    def get_amount(self, obj) -> str:
        return money(obj.amount)

    def get_debit(self, obj) -> str:
        return money(obj.debit)

    def get_credit(self, obj) -> str:
        return money(obj.credit)

    def get_balance(self, obj) -> str:
        return money(obj.balance * self.context["sign"])


STATEMENT = inline_serializer(
    "LedgerStatement",
    {
        "account": AccountSerializer(),
        "from": serializers.DateField(),
        "to": serializers.DateField(),
        "currency": serializers.CharField(),
        "normal_side": serializers.ChoiceField(choices=Side.choices),
        "opening_balance": serializers.CharField(),
        "debit_total": serializers.CharField(),
        "credit_total": serializers.CharField(),
        "closing_balance": serializers.CharField(),
        "lines": StatementLineSerializer(many=True),
    },
)


class TrialBalanceRowSerializer(serializers.Serializer):
    account = serializers.IntegerField()
    code = serializers.ChoiceField(choices=AccountCode.choices)
    type = serializers.ChoiceField(choices=AccountType.choices)
    normal_side = serializers.ChoiceField(choices=Side.choices)
    name = serializers.CharField()
    enterprise = serializers.IntegerField(allow_null=True)
    currency = serializers.CharField()
    debit = serializers.CharField(help_text="total debits")
    credit = serializers.CharField(help_text="total credits")
    balance = serializers.CharField(help_text="debit - credit (signed)")


class TrialBalanceTotalsSerializer(serializers.Serializer):
    currency = serializers.CharField()
    debit = serializers.CharField()
    credit = serializers.CharField()
    balance = serializers.CharField()
    balanced = serializers.BooleanField()


class TrialBalanceSerializer(serializers.Serializer):
    cluster = serializers.IntegerField()
    cluster_name = serializers.CharField()
    as_of = serializers.DateField(allow_null=True)
    balanced = serializers.BooleanField()
    rows = TrialBalanceRowSerializer(many=True)
    totals = TrialBalanceTotalsSerializer(many=True)


def trial_balance_json(tb: selectors.TrialBalance) -> dict:
    return {
        "cluster": tb.cluster.pk,
        "cluster_name": tb.cluster.name,
        "as_of": tb.as_of.isoformat() if tb.as_of else None,
        "balanced": tb.balanced,
        "rows": [
            {
                "account": r.account.pk,
                "code": r.account.code,
                "type": r.account.type,
                "normal_side": r.account.normal_side,
                "name": r.account.name,
                "enterprise": r.account.enterprise_id,
                "currency": r.account.currency,
                "debit": money(r.debit),
                "credit": money(r.credit),
                "balance": money(r.balance),
            }
            for r in tb.rows
        ],
        "totals": [
            {
                "currency": t.currency,
                "debit": money(t.debit),
                "credit": money(t.credit),
                "balance": money(t.balance),
                "balanced": t.balanced,
            }
            for t in tb.totals.values()
        ],
    }


def statement_json(st: selectors.Statement, account_data: dict) -> dict:
    return {
        "account": account_data,
        "from": st.date_from.isoformat(),
        "to": st.date_to.isoformat(),
        "currency": st.account.currency,
        "normal_side": st.account.normal_side,
        "opening_balance": money(st.normal(st.opening)),
        "debit_total": money(st.debit_total),
        "credit_total": money(st.credit_total),
        "closing_balance": money(st.normal(st.closing)),
        "lines": StatementLineSerializer(st.lines, many=True, context={"sign": st.account.normal_sign}).data,
    }


def statement_range(params) -> tuple[date, date]:
    today = timezone.localdate()
    date_to = parse_day(params.get("to"), "to", today)
    date_from = parse_day(params.get("from"), "from", date_to - timedelta(days=30))
    if date_from > date_to:
        raise InvalidInput(_("The start date is after the end date."), code="invalid_range")
    if (date_to - date_from).days >= selectors.MAX_STATEMENT_DAYS:
        raise InvalidInput(
            _("A statement covers at most %(n)d days.") % {"n": selectors.MAX_STATEMENT_DAYS},
            code="range_too_long",
        )
    return date_from, date_to


# ----------------------------------------------------------------- views

ACCOUNT_FILTERS = [
    OpenApiParameter("cluster", OpenApiTypes.INT, description="cluster id"),
    OpenApiParameter("enterprise", OpenApiTypes.INT, description="enterprise id"),
]
STATEMENT_PARAMS = [
    OpenApiParameter(
        "from", OpenApiTypes.DATE, description="first day (YYYY-MM-DD); default 30 days before `to`"
    ),
    OpenApiParameter("to", OpenApiTypes.DATE, description="last day (YYYY-MM-DD), included; default today"),
]
CLUSTER_PARAM = OpenApiParameter("cluster", OpenApiTypes.INT, required=True, description="cluster id")


class AccountViewSet(
    ScopedObjectMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Ledger accounts you may see — your enterprise's, or all of the clusters you operate — each with
    its balance derived from the journal."""

    serializer_class = AccountSerializer
    queryset = Account.objects.none()

    def get_queryset(self):
        params = self.request.query_params
        if self.action == "list":
            return selectors.accounts(
                self.request.user, cluster=params.get("cluster"), enterprise=params.get("enterprise")
            )
        return selectors.accounts(self.request.user)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "balances": getattr(self, "_balances", {})}

    @extend_schema(parameters=ACCOUNT_FILTERS)
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        self._balances = selectors.balances(page)  # one aggregate query for the whole page
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        account = self.get_object()
        self._balances = selectors.balances([account])
        return Response(self.get_serializer(account).data)

    @extend_schema(parameters=STATEMENT_PARAMS, responses=STATEMENT)
    @action(detail=True, methods=["get"])
    def statement(self, request, pk=None):
        account = self.get_object()
        date_from, date_to = statement_range(request.query_params)
        st = selectors.statement(account, date_from, date_to)
        self._balances = selectors.balances([account])
        return Response(statement_json(st, self.get_serializer(account).data))


class TrialBalanceView(APIView):
    """The cluster's trial balance (operators of the cluster and platform admins; others 404)."""

    @extend_schema(
        parameters=[
            CLUSTER_PARAM,
            OpenApiParameter("as_of", OpenApiTypes.DATE, description="up to the end of this day"),
        ],
        responses=TrialBalanceSerializer,
    )
    def get(self, request):
        cluster_id = parse_id(request.query_params.get("cluster", ""), "cluster")
        cluster = selectors.cluster_books_for(request.user, cluster_id)
        as_of = request.query_params.get("as_of")
        as_of = parse_day(as_of, "as_of", None) if as_of not in (None, "") else None
        return Response(trial_balance_json(selectors.trial_balance(cluster, as_of)))


class PlainTextRenderer(BaseRenderer):
    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, str):
            return data.encode(self.charset)
        return JSONRenderer().render(data)


class BeancountExportView(APIView):
    """The cluster's ledger as a beancount file, for ``bean-check`` (operators and platform admins)."""

    renderer_classes = [PlainTextRenderer, JSONRenderer]

    @extend_schema(parameters=[CLUSTER_PARAM], responses={(200, "text/plain"): OpenApiTypes.STR})
    def get(self, request):
        cluster_id = parse_id(request.query_params.get("cluster", ""), "cluster")
        cluster = selectors.cluster_books_for(request.user, cluster_id)
        response = HttpResponse(beancount_export(cluster), content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = f'inline; filename="cluster-{cluster.pk}.beancount"'
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        # Refusals are JSON like everywhere else in the API, whatever the client accepts.
        if isinstance(response, Response):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)
