"""Orders API: thin. Serializers parse and render; the order services decide; selectors scope the reads.

Money is a string with two decimals and ``currency`` alongside; quantities are strings with three decimals
in the order's ``unit``. Inputs take numbers as strings (or JSON numbers, read through their text) so that
the services' codes (``too_many_decimals``, ``below_moq``, ``amount_mismatch``…) reach the client.

Every move answers the order as the mover now sees it, except the operator's money moves (a confirmed
transfer, a matched bank line): the operator does not see an undisputed order, so those answer the payment
with the little the payment desk shows. The POSTs that move money — placing an order, paying it from cash,
confirming a transfer, accepting (the escrow release), deciding a dispute, cancelling (the refund), matching
a bank line — take an ``Idempotency-Key`` header (``core/idempotency.py``). Importing a statement does not
need one: the file's sha256 already makes a repeat 409 ``statement_already_imported``.
"""

from __future__ import annotations

import threading

from django.db.models import Count, Q
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.utils.serializer_helpers import ReturnDict

from chanlian.core.api import ScopedObjectMixin
from chanlian.core.errors import InvalidInput, NotFound
from chanlian.core.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from chanlian.core.params import MAX_ID, parse_id, path_id
from chanlian.core.permissions import one_or_404, restrict

from .. import selectors, services
from ..choices import (
    BankLineStatus,
    DisputeDecision,
    InvoiceStatus,
    InvoiceType,
    OrderOrigin,
    OrderStatus,
    PaymentMethod,
    PaymentPurpose,
    PaymentTerms,
    Side,
)
from ..models import BankLine, BankStatement, Contract, Invoice, Order, Shipment

MAX_STATEMENT_BYTES = 5 * 1024 * 1024

# ----------------------------------------------------------------- output


def _money(**kwargs):
    return serializers.DecimalField(max_digits=20, decimal_places=2, coerce_to_string=True, **kwargs)


def _qty(**kwargs):
    return serializers.DecimalField(max_digits=18, decimal_places=3, coerce_to_string=True, **kwargs)


def _money_text(value) -> str | None:
    return None if value is None else f"{value:.2f}"


class OrderEventSerializer(serializers.Serializer):
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    actor = serializers.SerializerMethodField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()

    def get_actor(self, obj) -> str | None:
        return obj.actor.username if obj.actor_id and obj.actor else None


class ShipmentSerializer(serializers.ModelSerializer):
    quantity = _qty()

    class Meta:
        model = Shipment
        fields = [
            "id",
            "order",
            "carrier",
            "waybill",
            "quantity",
            "shipped_on",
            "delivered_on",
            "note",
            "created_at",
        ]


class InvoiceSerializer(serializers.ModelSerializer):
    invoice_type = serializers.ChoiceField(choices=InvoiceType.choices)
    status = serializers.ChoiceField(choices=InvoiceStatus.choices)
    amount = _money()
    tax_rate = serializers.DecimalField(max_digits=5, decimal_places=4, coerce_to_string=True)
    tax = _money()
    total = _money()

    class Meta:
        model = Invoice
        fields = [
            "id",
            "order",
            "supplier",
            "buyer",
            "invoice_type",
            "code",
            "number",
            "issue_date",
            "amount",
            "tax_rate",
            "tax",
            "total",
            "currency",
            "status",
            "status_reason",
            "recorded_at",
            "confirmed_at",
        ]


class PaymentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    purpose = serializers.ChoiceField(choices=PaymentPurpose.choices)
    method = serializers.ChoiceField(choices=PaymentMethod.choices)
    amount = _money()
    currency = serializers.CharField()
    bank_reference = serializers.CharField()
    received_on = serializers.DateField()
    bank_line = serializers.IntegerField(source="bank_line_id", allow_null=True)
    created_at = serializers.DateTimeField()


class ReceiptSerializer(PaymentSerializer):
    """A payment as the cluster's operator sees it after confirming it: the order's reference and new
    status, nothing of its terms."""

    order = serializers.IntegerField(source="order_id")
    reference = serializers.CharField(source="order.reference")
    order_status = serializers.ChoiceField(source="order.status", choices=OrderStatus.choices)


class DisputeSerializer(serializers.Serializer):
    reason = serializers.CharField()
    opened_at = serializers.DateTimeField()
    decision = serializers.CharField(help_text="release, refund or split; empty until decided")
    supplier_amount = _money(allow_null=True)
    buyer_amount = _money(allow_null=True)
    decision_reason = serializers.CharField()
    decided_at = serializers.DateTimeField(allow_null=True)


class SignatureSerializer(serializers.Serializer):
    side = serializers.ChoiceField(choices=Side.choices)
    enterprise = serializers.IntegerField(source="enterprise_id")
    enterprise_name = serializers.CharField(source="enterprise.name")
    user = serializers.CharField(source="user.username")
    content_hash = serializers.CharField()
    signed_at = serializers.DateTimeField()


class ContractSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.IntegerField()
    content_hash = serializers.CharField()
    created_at = serializers.DateTimeField()
    signatures = SignatureSerializer(many=True)


class ContractSerializer(ContractSummarySerializer):
    order = serializers.IntegerField(source="order_id")
    content = serializers.DictField(child=serializers.JSONField())


class OrderSerializer(serializers.ModelSerializer):
    """An order in a list: its terms and parties, without the parts."""

    cluster_name = serializers.CharField(source="cluster.name")
    buyer_name = serializers.CharField(source="buyer.name")
    supplier_name = serializers.CharField(source="supplier.name")
    origin = serializers.ChoiceField(choices=OrderOrigin.choices)
    quantity = _qty()
    unit_price = _money()
    amount = _money()
    delivery_region = serializers.CharField(source="delivery_region_id")
    delivery_region_name = serializers.CharField(source="delivery_region.full_name")
    payment_terms = serializers.ChoiceField(choices=PaymentTerms.choices)
    status = serializers.ChoiceField(choices=OrderStatus.choices)

    class Meta:
        model = Order
        fields = [
            "id",
            "reference",
            "cluster",
            "cluster_name",
            "buyer",
            "buyer_name",
            "supplier",
            "supplier_name",
            "origin",
            "listing",
            "award",
            "category",
            "title",
            "quantity",
            "unit",
            "unit_price",
            "amount",
            "currency",
            "delivery_region",
            "delivery_region_name",
            "delivery_date",
            "payment_terms",
            "status",
            "status_reason",
            "placed_at",
            "updated_at",
        ]


class OrderDetailSerializer(OrderSerializer):
    """The whole order: terms, status, parties, and its events, shipments, invoices, payments, dispute,
    the current contract's summary, what is still to pay and the moves the reader may make now."""

    spec = serializers.DictField(child=serializers.JSONField())
    fee_rate = serializers.DecimalField(max_digits=5, decimal_places=4, coerce_to_string=True)
    reserved_quantity = _qty()
    accepted_quantity = _qty(allow_null=True)
    accepted_amount = _money(allow_null=True)
    fee_amount = _money(allow_null=True)
    events = OrderEventSerializer(many=True)
    shipments = ShipmentSerializer(many=True)
    invoices = InvoiceSerializer(many=True)
    payments = PaymentSerializer(many=True)
    dispute = serializers.SerializerMethodField()
    contract = serializers.SerializerMethodField()
    amount_due = serializers.SerializerMethodField(
        help_text="what the buyer still has to pay now (two decimals), or null when nothing is due"
    )
    actions = serializers.SerializerMethodField()

    class Meta(OrderSerializer.Meta):
        fields = [
            *OrderSerializer.Meta.fields,
            "spec",
            "delivery_address",
            "note",
            "fee_rate",
            "reserved_quantity",
            "accepted_quantity",
            "accepted_amount",
            "quality_grade",
            "acceptance_note",
            "fee_amount",
            "due_date",
            "confirmed_at",
            "signed_at",
            "paid_at",
            "shipped_at",
            "delivered_at",
            "accepted_at",
            "settled_at",
            "closed_at",
            "cancelled_at",
            "events",
            "shipments",
            "invoices",
            "payments",
            "dispute",
            "contract",
            "amount_due",
            "actions",
        ]

    @extend_schema_field(DisputeSerializer(allow_null=True))
    def get_dispute(self, obj):
        try:
            dispute = obj.dispute
        except Order.dispute.RelatedObjectDoesNotExist:
            return None
        return DisputeSerializer(dispute).data

    @extend_schema_field(ContractSummarySerializer(allow_null=True))
    def get_contract(self, obj):
        current = _current_contract(obj)
        return ContractSummarySerializer(current).data if current is not None else None

    def get_amount_due(self, obj) -> str | None:
        due = selectors.amount_due(obj)
        return _money_text(due) if due else None

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_actions(self, obj):
        request = self.context.get("request")
        return list(selectors.order_actions(request.user, obj)) if request is not None else []


_detail = threading.local()


def render_order_detail(order: Order, request) -> ReturnDict:
    """``OrderDetailSerializer(order, context={"request": request}).data``, with the serializer's fields
    built once per thread instead of once per response: building its ~60 DRF fields costs ten times
    rendering them (1 ms against 0.1 ms). A thread answers one request at a time and the fields keep no
    state between two ``to_representation`` calls, so the answer is the same, byte for byte."""
    serializer = getattr(_detail, "serializer", None)
    if serializer is None:
        serializer = _detail.serializer = OrderDetailSerializer()
        serializer.fields  # noqa: B018 — build and bind the fields now, once
    serializer.instance, serializer._context = order, {"request": request}
    return ReturnDict(serializer.to_representation(order), serializer=serializer)


def _current_contract(order: Order) -> Contract | None:
    """The order's one unvoided contract, from the prefetched versions when there are any."""
    versions = order.contracts.all()
    current = [c for c in versions if c.voided_at is None]
    return max(current, key=lambda c: c.version) if current else None


class DeskRowSerializer(serializers.Serializer):
    """One order awaiting money, as the operator's payment desk shows it (``selectors.DeskRow``)."""

    order = serializers.IntegerField(source="order_id")
    reference = serializers.CharField()
    buyer = serializers.IntegerField(source="buyer_id")
    buyer_name = serializers.CharField(source="buyer")
    supplier = serializers.IntegerField(source="supplier_id")
    supplier_name = serializers.CharField(source="supplier")
    payment_terms = serializers.ChoiceField(choices=PaymentTerms.choices)
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    amount_due = _money()
    currency = serializers.CharField()
    due_date = serializers.DateField(allow_null=True)


class BankLineSerializer(serializers.ModelSerializer):
    amount = _money()
    status = serializers.ChoiceField(choices=BankLineStatus.choices)
    reference = serializers.SerializerMethodField(help_text="the matched order's payment reference")

    class Meta:
        model = BankLine
        fields = [
            "id",
            "statement",
            "line_no",
            "transaction_id",
            "booked_on",
            "amount",
            "currency",
            "counterparty_name",
            "counterparty_account",
            "memo",
            "status",
            "problem",
            "order",
            "reference",
        ]

    def get_reference(self, obj) -> str | None:
        return obj.order.reference if obj.order_id else None


class BankStatementSerializer(serializers.ModelSerializer):
    unmatched_count = serializers.SerializerMethodField()
    uploaded_by = serializers.SerializerMethodField()

    class Meta:
        model = BankStatement
        fields = [
            "id",
            "cluster",
            "filename",
            "sha256",
            "encoding",
            "line_count",
            "matched_count",
            "unmatched_count",
            "uploaded_by",
            "uploaded_at",
        ]

    def get_unmatched_count(self, obj) -> int:
        counted = getattr(obj, "unmatched", None)  # annotated on a list; counted from the lines otherwise
        if counted is not None:
            return counted
        return sum(1 for line in obj.lines.all() if line.status == BankLineStatus.UNMATCHED)

    def get_uploaded_by(self, obj) -> str | None:
        return obj.uploaded_by.username if obj.uploaded_by_id else None


class BankStatementDetailSerializer(BankStatementSerializer):
    lines = BankLineSerializer(many=True)

    class Meta(BankStatementSerializer.Meta):
        fields = [*BankStatementSerializer.Meta.fields, "lines"]


MATCHED_LINE = inline_serializer(
    "MatchedBankLine", {"line": BankLineSerializer(), "payment": ReceiptSerializer()}
)

# ----------------------------------------------------------------- input

_ID = {"min_value": 1, "max_value": MAX_ID}
_NUMBER = {"max_length": 40, "help_text": "a decimal number, as a string"}
_MONEY = {"max_length": 40}


class OrderInput(serializers.Serializer):
    """Either ``award`` (an awarded quote: every term comes from it) or ``listing`` with ``quantity`` and
    ``delivery_region`` (a purchase at the listing's tier price)."""

    award = serializers.IntegerField(required=False, help_text="an awarded quote's terms id", **_ID)
    listing = serializers.IntegerField(required=False, help_text="a published listing's id", **_ID)
    buyer = serializers.IntegerField(
        required=False, help_text="listing purchase: your enterprise (needed if you act for several)", **_ID
    )
    quantity = serializers.CharField(required=False, **_NUMBER)
    delivery_region = serializers.CharField(required=False, max_length=6, help_text="county code")
    delivery_date = serializers.DateField(
        required=False, allow_null=True, help_text="default: today + the listing's lead time"
    )
    payment_terms = serializers.ChoiceField(choices=PaymentTerms.choices, required=False)
    delivery_address = serializers.CharField(required=False, allow_blank=True, max_length=200)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)

    LISTING_ONLY = ("buyer", "quantity", "delivery_region", "delivery_date", "payment_terms")

    def validate(self, attrs):
        if ("award" in attrs) == ("listing" in attrs):
            raise InvalidInput(
                _("Give either an award or a listing."),
                code="award_or_listing",
                fields={"award": "award or listing", "listing": "award or listing"},
            )
        if "award" in attrs:
            extra = [f for f in self.LISTING_ONLY if f in attrs]
            if extra:
                raise InvalidInput(
                    _("An order from an award takes its terms from the award."),
                    code="terms_from_award",
                    fields={f: "not allowed with award" for f in extra},
                )
        else:
            missing = [f for f in ("quantity", "delivery_region") if f not in attrs]
            if missing:
                raise serializers.ValidationError(
                    {f: _("This field is required.") for f in missing}, code="required"
                )
        return attrs


class CancelInput(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class DisputeInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class AmendInput(serializers.Serializer):
    delivery_date = serializers.DateField(required=False)
    delivery_address = serializers.CharField(required=False, allow_blank=True, max_length=200)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class DeliverInput(serializers.Serializer):
    delivered_on = serializers.DateField(required=False, allow_null=True, help_text="default: today")


class AcceptanceInput(serializers.Serializer):
    accepted_quantity = serializers.CharField(**_NUMBER)
    quality_grade = serializers.CharField(max_length=64, help_text="a grade key of the cluster's pack")
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class DecideInput(serializers.Serializer):
    decision = serializers.ChoiceField(choices=DisputeDecision.choices)
    supplier_amount = serializers.CharField(
        required=False, allow_null=True, help_text="split only: what the supplier gets", **_MONEY
    )
    reason = serializers.CharField(max_length=2000)


class TransferInput(serializers.Serializer):
    amount = serializers.CharField(help_text="must equal the amount due", **_MONEY)
    bank_reference = serializers.CharField(max_length=64, help_text="the bank's transaction number")
    received_on = serializers.DateField()


class ShipmentInput(serializers.Serializer):
    carrier = serializers.CharField(max_length=100)
    waybill = serializers.CharField(max_length=64)
    quantity = serializers.CharField(**_NUMBER)
    shipped_on = serializers.DateField(required=False, allow_null=True, help_text="default: today")
    note = serializers.CharField(required=False, allow_blank=True, max_length=500)


class SignInput(serializers.Serializer):
    password = serializers.CharField(max_length=256, trim_whitespace=False, style={"input_type": "password"})
    content_hash = serializers.CharField(max_length=64, help_text="the content_hash of the version you read")


class InvoiceInput(serializers.Serializer):
    invoice_type = serializers.ChoiceField(choices=InvoiceType.choices)
    code = serializers.CharField(required=False, allow_blank=True, max_length=12)
    number = serializers.CharField(max_length=20)
    issue_date = serializers.DateField()
    amount = serializers.CharField(help_text="excluding tax", **_MONEY)
    tax_rate = serializers.CharField(max_length=12, help_text="e.g. 0.13 or 0.09")
    tax = serializers.CharField(help_text="yuan, at most 2 decimals", **_MONEY)
    total = serializers.CharField(help_text="amount + tax", **_MONEY)


class InvoiceRejectInput(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class StatementInput(serializers.Serializer):
    cluster = serializers.IntegerField(**_ID)
    file = serializers.FileField(help_text="the bank's CSV export (UTF-8 or GB18030), at most 5 MiB")


class MatchInput(serializers.Serializer):
    order = serializers.IntegerField(help_text="the order this receipt pays", **_ID)


def _parse(serializer_class, request, **kwargs) -> dict:
    s = serializer_class(data=request.data, **kwargs)
    s.is_valid(raise_exception=True)
    return dict(s.validated_data)


# ----------------------------------------------------------------- views

ORDER_PARAMS = [
    OpenApiParameter("role", OpenApiTypes.STR, enum=["buyer", "supplier"], description="your side"),
    OpenApiParameter("status", OpenApiTypes.STR, enum=OrderStatus.values),
    OpenApiParameter("cluster", OpenApiTypes.INT, description="cluster id"),
]


class OrderViewSet(ScopedObjectMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Orders: only the buyer's and the supplier's users see them (the cluster's operator once one is
    disputed); anyone else gets 404, exactly as for a missing order."""

    serializer_class = OrderSerializer
    queryset = Order.objects.none()

    def get_queryset(self):
        params = self.request.query_params
        if self.action == "list":
            return selectors.orders(
                self.request.user,
                role=params.get("role"),
                status=params.get("status"),
                cluster=params.get("cluster"),
            )
        return selectors.orders(self.request.user)

    @extend_schema(parameters=ORDER_PARAMS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def _render(self, order_id: int, code=status.HTTP_200_OK) -> Response:
        order = selectors.order_for(self.request.user, order_id)
        return self._answer(order, code)

    def _answer(self, order: Order, code=status.HTTP_200_OK) -> Response:
        return Response(render_order_detail(order, self.request), status=code)

    def _order(self, pk) -> Order:
        """The order, for a read of one of its parts: 404 unless the user may see it."""
        return one_or_404(selectors.orders(self.request.user), pk=path_id(pk))

    @extend_schema(responses=OrderDetailSerializer)
    def retrieve(self, request, pk=None):
        return self._render(path_id(pk))

    @extend_schema(
        parameters=[IDEMPOTENCY_PARAMETER], request=OrderInput, responses={201: OrderDetailSerializer}
    )
    @idempotent
    def create(self, request):
        data = _parse(OrderInput, request)
        common = {"delivery_address": data.get("delivery_address", ""), "note": data.get("note", "")}
        if "award" in data:
            order = services.place_order_from_award(request.user, data["award"], **common)
        else:
            extra = {
                k: data[k] for k in ("buyer", "delivery_date", "payment_terms") if data.get(k) is not None
            }
            order = services.place_order_from_listing(
                request.user,
                data["listing"],
                quantity=data["quantity"],
                delivery_region=data["delivery_region"],
                **extra,
                **common,
            )
        # The new order as the service returned it: the same answer as reading it back with
        # ``order_for``, without the six queries (a new order has no parts to prefetch).
        return self._answer(selectors.placed_order(request.user, order), status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=OrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        return self._render(services.confirm_order(request.user, path_id(pk)).pk)

    @extend_schema(parameters=[IDEMPOTENCY_PARAMETER], request=CancelInput, responses=OrderDetailSerializer)
    @action(detail=True, methods=["post"])
    @idempotent
    def cancel(self, request, pk=None):
        reason = _parse(CancelInput, request)["reason"]
        return self._render(services.cancel_order(request.user, path_id(pk), reason=reason).pk)

    @extend_schema(request=AmendInput, responses=OrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def amend(self, request, pk=None):
        data = _parse(AmendInput, request)
        return self._render(services.amend_order(request.user, path_id(pk), **data).pk)

    @extend_schema(parameters=[IDEMPOTENCY_PARAMETER], request=None, responses=OrderDetailSerializer)
    @action(detail=True, methods=["post"], url_path="pay-from-cash")
    @idempotent
    def pay_from_cash(self, request, pk=None):
        payment = services.pay_order_from_cash(request.user, path_id(pk))
        return self._render(payment.order_id)

    @extend_schema(request=DeliverInput, responses=OrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def deliver(self, request, pk=None):
        data = {k: v for k, v in _parse(DeliverInput, request).items() if v is not None}
        return self._render(services.record_delivery(request.user, path_id(pk), **data).pk)

    @extend_schema(
        parameters=[IDEMPOTENCY_PARAMETER], request=AcceptanceInput, responses=OrderDetailSerializer
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def accept(self, request, pk=None):
        data = _parse(AcceptanceInput, request)
        return self._render(services.accept_order(request.user, path_id(pk), **data).pk)

    @extend_schema(request=DisputeInput, responses=OrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def dispute(self, request, pk=None):
        reason = _parse(DisputeInput, request)["reason"]
        dispute = services.open_dispute(request.user, path_id(pk), reason=reason)
        return self._render(dispute.order_id)

    @extend_schema(parameters=[IDEMPOTENCY_PARAMETER], request=DecideInput, responses=OrderDetailSerializer)
    @action(detail=True, methods=["post"])
    @idempotent
    def decide(self, request, pk=None):
        data = _parse(DecideInput, request)
        order = services.decide_dispute(
            request.user,
            path_id(pk),
            decision=data["decision"],
            supplier_amount=data.get("supplier_amount"),
            reason=data["reason"],
        )
        return self._render(order.pk)

    @extend_schema(
        parameters=[IDEMPOTENCY_PARAMETER], request=TransferInput, responses={201: ReceiptSerializer}
    )
    @action(detail=True, methods=["post"], url_path="confirm-transfer")
    @idempotent
    def confirm_transfer(self, request, pk=None):
        data = _parse(TransferInput, request)
        payment = services.confirm_transfer(request.user, path_id(pk), **data)
        return Response(ReceiptSerializer(payment).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["get"], responses=ShipmentSerializer(many=True))
    @extend_schema(methods=["post"], request=ShipmentInput, responses={201: ShipmentSerializer})
    @action(detail=True, methods=["get", "post"])
    def shipments(self, request, pk=None):
        if request.method == "POST":
            data = {k: v for k, v in _parse(ShipmentInput, request).items() if v is not None}
            shipment = services.ship_order(request.user, path_id(pk), **data)
            return Response(ShipmentSerializer(shipment).data, status=status.HTTP_201_CREATED)
        order = self._order(pk)
        page = self.paginate_queryset(restrict(Shipment, request.user).filter(order=order).order_by("id"))
        return self.get_paginated_response(ShipmentSerializer(page, many=True).data)

    @extend_schema(responses=ContractSerializer)
    @action(detail=True, methods=["get"])
    def contract(self, request, pk=None):
        return Response(ContractSerializer(self._contract(pk)).data)

    def _contract(self, pk) -> Contract:
        order = self._order(pk)
        contract = (
            restrict(Contract, self.request.user)
            .filter(order=order, voided_at__isnull=True)
            .prefetch_related("signatures__enterprise", "signatures__user")
            .first()
        )
        if contract is None:
            raise NotFound(_("This order has no contract yet."), code="no_contract")
        return contract

    @extend_schema(request=SignInput, responses=ContractSerializer)
    @action(detail=True, methods=["post"], url_path="contract/sign")
    def sign(self, request, pk=None):
        data = _parse(SignInput, request)
        services.sign_contract(request.user, path_id(pk), **data)
        return Response(ContractSerializer(self._contract(pk)).data)

    @extend_schema(methods=["get"], responses=InvoiceSerializer(many=True))
    @extend_schema(methods=["post"], request=InvoiceInput, responses={201: InvoiceSerializer})
    @action(detail=True, methods=["get", "post"])
    def invoices(self, request, pk=None):
        if request.method == "POST":
            data = {"code": "", **_parse(InvoiceInput, request)}
            invoice = services.record_invoice(request.user, path_id(pk), **data)
            return Response(InvoiceSerializer(invoice).data, status=status.HTTP_201_CREATED)
        order = self._order(pk)
        page = self.paginate_queryset(restrict(Invoice, request.user).filter(order=order).order_by("id"))
        return self.get_paginated_response(InvoiceSerializer(page, many=True).data)


class InvoiceViewSet(ScopedObjectMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """A supplier's invoice for an order, seen by the order's parties; the buyer confirms or rejects it."""

    serializer_class = InvoiceSerializer
    queryset = Invoice.objects.none()

    def get_queryset(self):
        return restrict(Invoice, self.request.user).order_by("id")

    def _render(self, invoice_id: int) -> Response:
        return Response(InvoiceSerializer(one_or_404(self.get_queryset(), pk=invoice_id)).data)

    @extend_schema(request=None, responses=InvoiceSerializer)
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        return self._render(services.confirm_invoice(request.user, path_id(pk)).pk)

    @extend_schema(request=InvoiceRejectInput, responses=InvoiceSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        reason = _parse(InvoiceRejectInput, request)["reason"]
        return self._render(services.reject_invoice(request.user, path_id(pk), reason=reason).pk)


CLUSTER_PARAM = OpenApiParameter("cluster", OpenApiTypes.INT, required=True, description="cluster id")


class PaymentDeskViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The cluster operator's payment desk: orders awaiting money, with their payment reference, parties,
    amount due and status — nothing else of their terms. Anyone else: 404."""

    serializer_class = DeskRowSerializer

    def get_queryset(self):
        cluster_id = parse_id(self.request.query_params.get("cluster", ""), "cluster")
        return selectors.payment_desk(self.request.user, cluster_id)

    @extend_schema(parameters=[CLUSTER_PARAM])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


class BankStatementViewSet(
    ScopedObjectMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Statements of the cluster's supervised account, uploaded by its operators; only they see them."""

    serializer_class = BankStatementSerializer
    queryset = BankStatement.objects.none()
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self):
        qs = restrict(BankStatement, self.request.user).select_related("uploaded_by")
        if self.action == "list":
            cluster = self.request.query_params.get("cluster")
            if cluster not in (None, ""):
                qs = qs.filter(cluster_id=parse_id(cluster, "cluster"))
            qs = qs.annotate(unmatched=Count("lines", filter=Q(lines__status=BankLineStatus.UNMATCHED)))
        else:
            qs = qs.prefetch_related("lines__order")
        return qs.order_by("-id")

    def get_serializer_class(self):
        return BankStatementDetailSerializer if self.action == "retrieve" else BankStatementSerializer

    @extend_schema(
        parameters=[OpenApiParameter("cluster", OpenApiTypes.INT, description="cluster id")],
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": StatementInput}, responses={201: BankStatementDetailSerializer}
    )
    def create(self, request):
        # Not under Idempotency-Key: the file's sha256 already makes a repeat a 409
        # ``statement_already_imported``, whatever its name (and a key would hash only the file's name).
        data = _parse(StatementInput, request)
        upload = data["file"]
        if upload.size is not None and upload.size > MAX_STATEMENT_BYTES:
            raise InvalidInput(
                _("A statement file is at most 5 MiB."), code="file_too_large", fields={"file": "too large"}
            )
        content = upload.read(MAX_STATEMENT_BYTES + 1)
        if len(content) > MAX_STATEMENT_BYTES:
            raise InvalidInput(
                _("A statement file is at most 5 MiB."), code="file_too_large", fields={"file": "too large"}
            )
        statement = services.import_bank_statement(
            request.user, data["cluster"], filename=(upload.name or "statement.csv")[:200], data=content
        )
        obj = one_or_404(self.get_queryset(), pk=statement.pk)
        return Response(BankStatementDetailSerializer(obj).data, status=status.HTTP_201_CREATED)


class BankLineViewSet(ScopedObjectMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """A line of an uploaded statement; the operator matches an unmatched receipt to an order by hand."""

    serializer_class = BankLineSerializer
    queryset = BankLine.objects.none()

    def get_queryset(self):
        return restrict(BankLine, self.request.user).select_related("order").order_by("id")

    @extend_schema(parameters=[IDEMPOTENCY_PARAMETER], request=MatchInput, responses={201: MATCHED_LINE})
    @action(detail=True, methods=["post"])
    @idempotent
    def match(self, request, pk=None):
        order_id = _parse(MatchInput, request)["order"]
        payment = services.match_bank_line(request.user, path_id(pk), order_id)
        line = one_or_404(self.get_queryset(), pk=path_id(pk))
        return Response(
            {"line": BankLineSerializer(line).data, "payment": ReceiptSerializer(payment).data},
            status=status.HTTP_201_CREATED,
        )


router = SimpleRouter(trailing_slash=True)
router.register("orders", OrderViewSet, basename="order")
router.register("invoices", InvoiceViewSet, basename="invoice")
router.register("bank-statements", BankStatementViewSet, basename="bank-statement")
router.register("bank-lines", BankLineViewSet, basename="bank-line")
router.register("payment-desk", PaymentDeskViewSet, basename="payment-desk")

api_urlpatterns = router.urls
