"""Finance API: thin. Serializers parse and render; the finance services decide; selectors scope reads.

Money is a string with two decimals and ``currency`` alongside. Split amounts are taken as strings (JSON
numbers are read through their text) so that the services' codes (``too_many_decimals``,
``parts_do_not_sum``, ``invalid_amount``) reach the client. A receivable or voucher the user may not see
is 404, exactly like a missing one.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from chanlian.core.api import ScopedObjectMixin
from chanlian.core.params import MAX_ID, path_id

from . import selectors, services
from .choices import ReceivableStatus, TransferStatus, VoucherEventKind, VoucherStatus
from .models import Receivable, Voucher, VoucherEvent


def _money(**kwargs):
    return serializers.DecimalField(max_digits=20, decimal_places=2, coerce_to_string=True, **kwargs)


class CheckSerializer(serializers.Serializer):
    key = serializers.CharField(
        help_text="contract, shipments, acceptance, invoices, parties, amounts, dates, ledger"
    )
    label = serializers.CharField()
    ok = serializers.BooleanField()
    reason = serializers.CharField()


class ReceivableSerializer(serializers.ModelSerializer):
    order_reference = serializers.CharField(source="order.reference")
    creditor_name = serializers.CharField(source="creditor.name")
    debtor_name = serializers.CharField(source="debtor.name")
    amount = _money()
    status = serializers.ChoiceField(choices=ReceivableStatus.choices)

    class Meta:
        model = Receivable
        fields = [
            "id",
            "cluster",
            "order",
            "order_reference",
            "creditor",
            "creditor_name",
            "debtor",
            "debtor_name",
            "amount",
            "currency",
            "due_date",
            "status",
            "registered_at",
            "confirmed_at",
        ]


class ReceivableDetailSerializer(ReceivableSerializer):
    """The receivable with its four-flow check as of now, its vouchers and the moves the reader may make."""

    four_flow_ok = serializers.SerializerMethodField()
    four_flow = serializers.SerializerMethodField()
    voucher = serializers.SerializerMethodField(help_text="the voucher its confirmation issued")
    actions = serializers.SerializerMethodField()

    class Meta(ReceivableSerializer.Meta):
        fields = [*ReceivableSerializer.Meta.fields, "four_flow_ok", "four_flow", "voucher", "actions"]

    def _check(self, obj):
        cache = self.context.setdefault("_four_flow", {})
        if obj.pk not in cache:
            cache[obj.pk] = selectors.four_flow(obj.order, obj)
        return cache[obj.pk]

    def get_four_flow_ok(self, obj) -> bool:
        return self._check(obj).ok

    @extend_schema_field(CheckSerializer(many=True))
    def get_four_flow(self, obj):
        return CheckSerializer(self._check(obj).as_list(), many=True).data

    def get_voucher(self, obj) -> int | None:
        first = obj.vouchers.filter(parent__isnull=True).values_list("pk", flat=True).first()
        return first

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_actions(self, obj):
        request = self.context.get("request")
        return selectors.receivable_actions(request.user, obj) if request is not None else []


class TransferSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    from_enterprise = serializers.IntegerField(source="from_enterprise_id")
    from_name = serializers.CharField(source="from_enterprise.name")
    to_enterprise = serializers.IntegerField(source="to_enterprise_id")
    to_name = serializers.CharField(source="to_enterprise.name")
    status = serializers.ChoiceField(choices=TransferStatus.choices)
    offered_at = serializers.DateTimeField()


class VoucherSerializer(serializers.ModelSerializer):
    issuer_name = serializers.CharField(source="issuer.name")
    holder_name = serializers.CharField(source="holder.name")
    amount = _money()
    status = serializers.ChoiceField(choices=VoucherStatus.choices)
    overdue = serializers.BooleanField(source="is_overdue", help_text="matured and not paid")

    class Meta:
        model = Voucher
        fields = [
            "id",
            "number",
            "cluster",
            "receivable",
            "parent",
            "issuer",
            "issuer_name",
            "holder",
            "holder_name",
            "amount",
            "currency",
            "maturity_date",
            "status",
            "overdue",
            "issued_at",
        ]


class VoucherDetailSerializer(VoucherSerializer):
    parts = serializers.SerializerMethodField()
    pending_transfer = serializers.SerializerMethodField()
    actions = serializers.SerializerMethodField()

    class Meta(VoucherSerializer.Meta):
        fields = [*VoucherSerializer.Meta.fields, "parts", "pending_transfer", "actions"]

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_parts(self, obj):
        return list(obj.parts.order_by("id").values_list("pk", flat=True))

    @extend_schema_field(TransferSerializer(allow_null=True))
    def get_pending_transfer(self, obj):
        pending = selectors.pending_transfer(obj)
        return TransferSerializer(pending).data if pending is not None else None

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_actions(self, obj):
        request = self.context.get("request")
        return selectors.voucher_actions(request.user, obj) if request is not None else []


class CustodyEventSerializer(serializers.ModelSerializer):
    voucher_number = serializers.CharField(source="voucher.number")
    kind = serializers.ChoiceField(choices=VoucherEventKind.choices)
    actor = serializers.SerializerMethodField()
    from_name = serializers.SerializerMethodField()
    to_name = serializers.SerializerMethodField()
    amount = _money()
    data = serializers.DictField(child=serializers.JSONField())

    class Meta:
        model = VoucherEvent
        fields = [
            "id",
            "voucher",
            "voucher_number",
            "kind",
            "actor",
            "from_enterprise",
            "from_name",
            "to_enterprise",
            "to_name",
            "amount",
            "data",
            "created_at",
        ]

    def get_actor(self, obj) -> str | None:
        return obj.actor.username if obj.actor_id else None

    def get_from_name(self, obj) -> str | None:
        return obj.from_enterprise.name if obj.from_enterprise_id else None

    def get_to_name(self, obj) -> str | None:
        return obj.to_enterprise.name if obj.to_enterprise_id else None


# ----------------------------------------------------------------- input

_ID = {"min_value": 1, "max_value": MAX_ID}


class RegisterInput(serializers.Serializer):
    order = serializers.IntegerField(
        help_text="an accepted, invoiced order on payment terms you supplied", **_ID
    )


class ConfirmInput(serializers.Serializer):
    password = serializers.CharField(max_length=256, trim_whitespace=False, style={"input_type": "password"})


class SplitInput(serializers.Serializer):
    amounts = serializers.ListField(
        child=serializers.CharField(max_length=40),
        max_length=100,
        help_text="the parts, as decimal strings with at most 2 decimals, summing to the voucher",
    )


class TransferInput(serializers.Serializer):
    to_enterprise = serializers.IntegerField(help_text="one of the holder's suppliers", **_ID)


class DeclineInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


def _parse(serializer_class, request) -> dict:
    s = serializer_class(data=request.data)
    s.is_valid(raise_exception=True)
    return dict(s.validated_data)


# ----------------------------------------------------------------- views


class ReceivableViewSet(ScopedObjectMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Receivables: only the creditor's and the debtor's users see them; anyone else gets 404."""

    serializer_class = ReceivableSerializer
    queryset = Receivable.objects.none()

    def get_queryset(self):
        role = self.request.query_params.get("role") if self.action == "list" else None
        return selectors.receivables(self.request.user, role=role)

    @extend_schema(
        parameters=[
            OpenApiParameter("role", OpenApiTypes.STR, enum=["creditor", "debtor"], description="your side")
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def _answer(self, pk, code=status.HTTP_200_OK):
        obj = selectors.receivable_for_user(self.request.user, pk)
        return Response(ReceivableDetailSerializer(obj, context={"request": self.request}).data, status=code)

    @extend_schema(responses=ReceivableDetailSerializer)
    def retrieve(self, request, pk=None):
        return self._answer(path_id(pk))

    @extend_schema(request=RegisterInput, responses={201: ReceivableDetailSerializer})
    def create(self, request):
        data = _parse(RegisterInput, request)
        receivable = services.register_receivable(request.user, data["order"])
        return self._answer(receivable.pk, status.HTTP_201_CREATED)

    @extend_schema(request=ConfirmInput, responses={201: VoucherDetailSerializer})
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        data = _parse(ConfirmInput, request)
        voucher = services.confirm_receivable(request.user, path_id(pk), password=data["password"])
        return Response(
            VoucherDetailSerializer(voucher, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class VoucherViewSet(ScopedObjectMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Vouchers: their issuer's users and the users of every enterprise that holds or held them (and the
    receiver of a pending transfer) see them; anyone else gets 404."""

    serializer_class = VoucherSerializer
    queryset = Voucher.objects.none()

    def get_queryset(self):
        params = self.request.query_params
        if self.action == "list":
            return selectors.vouchers(self.request.user, role=params.get("role"), status=params.get("status"))
        return selectors.vouchers(self.request.user)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "role",
                OpenApiTypes.STR,
                enum=["holder", "issuer", "offered"],
                description="held by you now, issued by you, or offered to you",
            ),
            OpenApiParameter("status", OpenApiTypes.STR, enum=VoucherStatus.values),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def _answer(self, pk, code=status.HTTP_200_OK):
        obj = selectors.voucher_for(self.request.user, pk)
        return Response(VoucherDetailSerializer(obj, context={"request": self.request}).data, status=code)

    @extend_schema(responses=VoucherDetailSerializer)
    def retrieve(self, request, pk=None):
        return self._answer(path_id(pk))

    @extend_schema(request=SplitInput, responses={201: VoucherSerializer(many=True)})
    @action(detail=True, methods=["post"])
    def split(self, request, pk=None):
        data = _parse(SplitInput, request)
        parts = services.split_voucher(request.user, path_id(pk), amounts=data["amounts"])
        return Response(VoucherSerializer(parts, many=True).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TransferInput, responses=VoucherDetailSerializer)
    @action(detail=True, methods=["post"])
    def transfer(self, request, pk=None):
        data = _parse(TransferInput, request)
        transfer = services.transfer_voucher(request.user, path_id(pk), to_enterprise=data["to_enterprise"])
        return self._answer(transfer.voucher_id)

    @extend_schema(request=None, responses=VoucherDetailSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        voucher = services.accept_voucher_transfer(request.user, path_id(pk))
        return self._answer(voucher.pk)

    @extend_schema(request=DeclineInput, responses=VoucherSerializer)
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        data = _parse(DeclineInput, request)
        voucher = services.decline_voucher_transfer(request.user, path_id(pk), reason=data.get("reason", ""))
        # The decliner no longer sees the voucher (it never held it): answer what it declined.
        return Response(VoucherSerializer(voucher).data)

    @extend_schema(request=None, responses=VoucherDetailSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        voucher = services.withdraw_voucher_transfer(request.user, path_id(pk))
        return self._answer(voucher.pk)

    @extend_schema(responses=CustodyEventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def custody(self, request, pk=None):
        events = selectors.custody(request.user, path_id(pk))
        return Response(CustodyEventSerializer(events, many=True).data)


router = SimpleRouter(trailing_slash=True)
router.register("receivables", ReceivableViewSet, basename="receivable")
router.register("vouchers", VoucherViewSet, basename="voucher")
