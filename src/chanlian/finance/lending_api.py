"""Lending API under ``/api/v1/finance/``: thin. Serializers parse and render; ``lending`` decides;
``lending_selectors`` scope the reads. Money is a string with two decimals and ``currency`` alongside;
rates are decimal strings (``"0.043500"``). Money-moving POSTs (``disburse``, a voucher's ``pay``) take an
``Idempotency-Key`` header (docs/ledger.md, "Idempotency")."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from chanlian.core.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from chanlian.core.params import MAX_ID, path_id

from . import lending
from . import lending_selectors as sel
from .choices import ConsentScope, CreditLineStatus, DayCount, FinancingStatus, ProductKind
from .models import Consent, CreditLine, FinancingApplication, LenderProduct, Voucher


def _money(**kwargs):
    return serializers.DecimalField(max_digits=20, decimal_places=2, coerce_to_string=True, **kwargs)


def _rate(**kwargs):
    return serializers.DecimalField(max_digits=9, decimal_places=6, coerce_to_string=True, **kwargs)


_ID = {"min_value": 1, "max_value": MAX_ID}


def _parse(serializer_class, request) -> dict:
    s = serializer_class(data=request.data)
    s.is_valid(raise_exception=True)
    return dict(s.validated_data)


# ----------------------------------------------------------------- output


class ProductSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    lender = serializers.IntegerField(source="lender_id")
    lender_name = serializers.CharField(source="lender.name")
    clusters = serializers.SerializerMethodField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=ProductKind.choices)
    day_count = serializers.ChoiceField(choices=DayCount.choices)
    annual_rate = _rate()
    fee_rate = _rate()
    max_tenor_days = serializers.IntegerField()
    min_amount = _money()
    max_amount = _money()
    currency = serializers.CharField()
    active = serializers.BooleanField()

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_clusters(self, obj):
        return sorted(c.pk for c in obj.clusters.all())


class CreditLineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    lender = serializers.IntegerField(source="lender_id")
    lender_name = serializers.CharField(source="lender.name")
    enterprise = serializers.IntegerField(source="enterprise_id")
    enterprise_name = serializers.CharField(source="enterprise.name")
    limit = _money()
    currency = serializers.CharField()
    expires_on = serializers.DateField()
    status = serializers.ChoiceField(choices=CreditLineStatus.choices)
    exposure = serializers.SerializerMethodField(help_text="drawn − repaid, read from the ledger")
    reserved = serializers.SerializerMethodField(help_text="approved applications not yet disbursed")
    available = serializers.SerializerMethodField()

    def get_exposure(self, obj) -> str:
        return f"{sel.exposure(obj):.2f}"

    def get_reserved(self, obj) -> str:
        return f"{sel.reserved(obj):.2f}"

    def get_available(self, obj) -> str:
        return f"{sel.available(obj):.2f}"


class ConsentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    enterprise = serializers.IntegerField(source="enterprise_id")
    enterprise_name = serializers.CharField(source="enterprise.name")
    lender = serializers.IntegerField(source="lender_id")
    lender_name = serializers.CharField(source="lender.name")
    cluster = serializers.IntegerField(source="cluster_id")
    scope = serializers.ListField(child=serializers.ChoiceField(choices=ConsentScope.choices))
    voucher = serializers.IntegerField(source="voucher_id", allow_null=True)
    receivable = serializers.IntegerField(source="receivable_id", allow_null=True)
    granted_at = serializers.DateTimeField()
    valid_until = serializers.DateField()
    revoked_at = serializers.DateTimeField(allow_null=True)
    active = serializers.SerializerMethodField()

    def get_active(self, obj) -> bool:
        return obj.is_active()


class ApplicationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    cluster = serializers.IntegerField(source="cluster_id")
    applicant = serializers.IntegerField(source="applicant_id")
    applicant_name = serializers.CharField(source="applicant.name")
    lender = serializers.IntegerField(source="lender_id")
    lender_name = serializers.CharField(source="lender.name")
    product = serializers.IntegerField(source="product_id")
    voucher = serializers.IntegerField(source="voucher_id", allow_null=True)
    amount = _money(help_text="the face")
    currency = serializers.CharField()
    maturity_date = serializers.DateField()
    tenor_days = serializers.IntegerField()
    day_count = serializers.ChoiceField(choices=DayCount.choices)
    annual_rate = _rate()
    fee_rate = _rate()
    interest = _money(allow_null=True)
    fee = _money(allow_null=True)
    net = _money(allow_null=True, help_text="what the applicant receives")
    status = serializers.ChoiceField(choices=FinancingStatus.choices)
    overdue = serializers.BooleanField(source="is_overdue")
    registry_number = serializers.CharField(help_text="中登网 registration number (20 digits)")
    approved_by = serializers.IntegerField(source="approved_by_id", allow_null=True)
    checked_by = serializers.IntegerField(source="checked_by_id", allow_null=True)
    submitted_at = serializers.DateTimeField(allow_null=True)
    approved_at = serializers.DateTimeField(allow_null=True)
    checked_at = serializers.DateTimeField(allow_null=True)
    disbursed_at = serializers.DateTimeField(allow_null=True)
    repaid_at = serializers.DateTimeField(allow_null=True)
    decided_reason = serializers.CharField()
    actions = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_actions(self, obj):
        request = self.context.get("request")
        return sel.application_actions(request.user, obj) if request is not None else []


class VoucherPaymentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    voucher = serializers.IntegerField(source="voucher_id")
    amount = _money()
    currency = serializers.CharField()
    payment = serializers.IntegerField(source="payment_id")
    entry = serializers.IntegerField(source="entry_id")
    paid_at = serializers.DateTimeField()


# ----------------------------------------------------------------- input


class ProductInput(serializers.Serializer):
    lender = serializers.IntegerField(**_ID)
    name = serializers.CharField(max_length=120)
    kind = serializers.CharField(max_length=20)
    day_count = serializers.CharField(max_length=8)
    annual_rate = serializers.CharField(max_length=20)
    fee_rate = serializers.CharField(max_length=20, required=False, default="0")
    max_tenor_days = serializers.IntegerField()
    min_amount = serializers.CharField(max_length=40)
    max_amount = serializers.CharField(max_length=40)
    clusters = serializers.ListField(child=serializers.IntegerField(**_ID), max_length=100)


class ProductPatch(serializers.Serializer):
    active = serializers.BooleanField()


class CreditLineInput(serializers.Serializer):
    lender = serializers.IntegerField(**_ID)
    enterprise = serializers.IntegerField(**_ID)
    limit = serializers.CharField(max_length=40)
    expires_on = serializers.CharField(max_length=20)


class CreditLinePatch(serializers.Serializer):
    limit = serializers.CharField(max_length=40, required=False)
    expires_on = serializers.CharField(max_length=20, required=False)
    status = serializers.CharField(max_length=12, required=False)


class ConsentInput(serializers.Serializer):
    enterprise = serializers.IntegerField(**_ID)
    lender = serializers.IntegerField(**_ID)
    cluster = serializers.IntegerField(**_ID)
    scope = serializers.ListField(child=serializers.CharField(max_length=20), max_length=10)
    valid_until = serializers.CharField(max_length=20)
    voucher = serializers.IntegerField(required=False, allow_null=True, **_ID)
    receivable = serializers.IntegerField(required=False, allow_null=True, **_ID)


class ApplicationInput(serializers.Serializer):
    product = serializers.IntegerField(**_ID)
    voucher = serializers.IntegerField(**_ID)
    amount = serializers.CharField(max_length=40, required=False, help_text="the voucher's amount, if given")
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)


class ApproveInput(serializers.Serializer):
    annual_rate = serializers.CharField(max_length=20, required=False, help_text="the lender's price")


class RejectInput(serializers.Serializer):
    reason = serializers.CharField(max_length=500, allow_blank=True)


class DisburseInput(serializers.Serializer):
    bank_reference = serializers.CharField(max_length=64, required=False, allow_blank=True)


class RegistrationInput(serializers.Serializer):
    number = serializers.CharField(max_length=40, allow_blank=True)


class PayInput(serializers.Serializer):
    amount = serializers.CharField(max_length=40)
    bank_reference = serializers.CharField(max_length=64)
    received_on = serializers.CharField(max_length=20)


# ----------------------------------------------------------------- views


class ProductViewSet(viewsets.ViewSet):
    """Lender products: every signed-in user reads them; the lender's admins offer and (de)activate."""

    queryset = LenderProduct.objects.none()  # for the schema's path parameter type only

    @extend_schema(
        parameters=[
            OpenApiParameter("cluster", OpenApiTypes.INT),
            OpenApiParameter("lender", OpenApiTypes.INT),
        ],
        responses=ProductSerializer(many=True),
    )
    def list(self, request):
        q = request.query_params
        rows = sel.products(request.user, cluster=q.get("cluster"), lender=q.get("lender"))
        return Response(ProductSerializer(rows, many=True).data)

    @extend_schema(responses=ProductSerializer)
    def retrieve(self, request, pk=None):
        return Response(ProductSerializer(sel.product_for(request.user, path_id(pk))).data)

    @extend_schema(request=ProductInput, responses={201: ProductSerializer})
    def create(self, request):
        product = lending.create_product(request.user, **_parse(ProductInput, request))
        return Response(ProductSerializer(product).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ProductPatch, responses=ProductSerializer)
    def partial_update(self, request, pk=None):
        data = _parse(ProductPatch, request)
        product = lending.update_product(request.user, path_id(pk), active=data["active"])
        return Response(ProductSerializer(product).data)


class CreditLineViewSet(viewsets.ViewSet):
    """Credit lines: the lender's and the enterprise's users read them; the lender's admins grant and
    change them."""

    queryset = CreditLine.objects.none()  # for the schema's path parameter type only

    @extend_schema(responses=CreditLineSerializer(many=True))
    def list(self, request):
        return Response(CreditLineSerializer(sel.credit_lines(request.user), many=True).data)

    @extend_schema(responses=CreditLineSerializer)
    def retrieve(self, request, pk=None):
        return Response(CreditLineSerializer(sel.credit_line_for(request.user, path_id(pk))).data)

    @extend_schema(request=CreditLineInput, responses={201: CreditLineSerializer})
    def create(self, request):
        line = lending.open_credit_line(request.user, **_parse(CreditLineInput, request))
        return Response(CreditLineSerializer(line).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CreditLinePatch, responses=CreditLineSerializer)
    def partial_update(self, request, pk=None):
        line = lending.change_credit_line(request.user, path_id(pk), **_parse(CreditLinePatch, request))
        return Response(CreditLineSerializer(line).data)


class ConsentViewSet(viewsets.ViewSet):
    """Consents: the granting enterprise's and the lender's users read them; the enterprise's admins grant
    and revoke; the lender's users read the package while the consent is active (else 404)."""

    queryset = Consent.objects.none()  # for the schema's path parameter type only

    @extend_schema(
        parameters=[OpenApiParameter("role", OpenApiTypes.STR, enum=["granted", "received"])],
        responses=ConsentSerializer(many=True),
    )
    def list(self, request):
        rows = sel.consents(request.user, role=request.query_params.get("role"))
        return Response(ConsentSerializer(rows, many=True).data)

    @extend_schema(responses=ConsentSerializer)
    def retrieve(self, request, pk=None):
        return Response(ConsentSerializer(sel.consent_for(request.user, path_id(pk))).data)

    @extend_schema(request=ConsentInput, responses={201: ConsentSerializer})
    def create(self, request):
        consent = lending.grant_consent(request.user, **_parse(ConsentInput, request))
        return Response(ConsentSerializer(consent).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ConsentSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        return Response(ConsentSerializer(lending.revoke_consent(request.user, path_id(pk))).data)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get"])
    def package(self, request, pk=None):
        return Response(sel.data_package(request.user, path_id(pk)))


class ApplicationViewSet(viewsets.ViewSet):
    """Financing applications: the applicant's and the lender's users see them; anyone else gets 404."""

    queryset = FinancingApplication.objects.none()  # for the schema's path parameter type only

    def _answer(self, app, code=status.HTTP_200_OK):
        fresh = sel.application_for(self.request.user, app.pk)
        return Response(ApplicationSerializer(fresh, context={"request": self.request}).data, status=code)

    @extend_schema(
        parameters=[
            OpenApiParameter("role", OpenApiTypes.STR, enum=["applicant", "lender"]),
            OpenApiParameter("status", OpenApiTypes.STR, enum=FinancingStatus.values),
        ],
        responses=ApplicationSerializer(many=True),
    )
    def list(self, request):
        q = request.query_params
        rows = sel.applications(request.user, role=q.get("role"), status=q.get("status"))
        return Response(ApplicationSerializer(rows, many=True, context={"request": request}).data)

    @extend_schema(responses=ApplicationSerializer)
    def retrieve(self, request, pk=None):
        return self._answer(sel.application_for(request.user, path_id(pk)))

    @extend_schema(request=ApplicationInput, responses={201: ApplicationSerializer})
    def create(self, request):
        app = lending.create_application(request.user, **_parse(ApplicationInput, request))
        return self._answer(app, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ApplicationSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        return self._answer(lending.submit_application(request.user, path_id(pk)))

    @extend_schema(request=None, responses=ApplicationSerializer)
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        return self._answer(lending.start_review(request.user, path_id(pk)))

    @extend_schema(request=ApproveInput, responses=ApplicationSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        data = _parse(ApproveInput, request)
        return self._answer(lending.approve_application(request.user, path_id(pk), **data))

    @extend_schema(request=None, responses=ApplicationSerializer)
    @action(detail=True, methods=["post"])
    def check(self, request, pk=None):
        return self._answer(lending.check_application(request.user, path_id(pk)))

    @extend_schema(request=RejectInput, responses=ApplicationSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        data = _parse(RejectInput, request)
        return self._answer(lending.reject_application(request.user, path_id(pk), reason=data["reason"]))

    @extend_schema(request=None, responses=ApplicationSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        return self._answer(lending.withdraw_application(request.user, path_id(pk)))

    @extend_schema(parameters=[IDEMPOTENCY_PARAMETER], request=DisburseInput, responses=ApplicationSerializer)
    @action(detail=True, methods=["post"])
    @idempotent
    def disburse(self, request, pk=None):
        data = _parse(DisburseInput, request)
        app = lending.disburse_application(
            request.user, path_id(pk), bank_reference=data.get("bank_reference", "")
        )
        return self._answer(app)

    @extend_schema(request=RegistrationInput, responses=ApplicationSerializer)
    @action(detail=True, methods=["post"])
    def registration(self, request, pk=None):
        data = _parse(RegistrationInput, request)
        return self._answer(lending.record_registry_number(request.user, path_id(pk), number=data["number"]))


class VoucherPaymentViewSet(viewsets.ViewSet):
    """The issuer's payment of a voucher at maturity, confirmed by the cluster's operator."""

    queryset = Voucher.objects.none()  # for the schema's path parameter type only

    @extend_schema(
        parameters=[IDEMPOTENCY_PARAMETER], request=PayInput, responses={201: VoucherPaymentSerializer}
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def pay(self, request, pk=None):
        data = _parse(PayInput, request)
        paid = lending.pay_voucher(request.user, path_id(pk), **data)
        return Response(VoucherPaymentSerializer(paid).data, status=status.HTTP_201_CREATED)


router = SimpleRouter(trailing_slash=True)
router.register("finance/products", ProductViewSet, basename="lending-product")
router.register("finance/credit-lines", CreditLineViewSet, basename="lending-credit-line")
router.register("finance/consents", ConsentViewSet, basename="lending-consent")
router.register("finance/applications", ApplicationViewSet, basename="lending-application")
router.register("finance/vouchers", VoucherPaymentViewSet, basename="lending-voucher")
