"""Trading API: thin. Serializers parse and render; services decide; selectors scope the reads.

Money is a string with two decimals and ``currency`` alongside; quantities are strings with three
decimals in the row's ``unit``. Inputs take numbers as strings (or JSON numbers, read through their text)
so that the services' codes (``too_many_decimals``, ``quantity_not_positive``…) reach the client.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from chanlian.core.api import ScopedObjectMixin
from chanlian.core.money import to_fen
from chanlian.core.params import MAX_ID, path_id
from chanlian.core.permissions import one_or_404

from .. import selectors, services, values
from ..choices import DemandStatus, DemandVisibility, ListingStatus, PaymentTerms, QuoteStatus, Side
from ..models import AwardedTerms, Demand, Listing, ListingPhoto, Quote, QuoteRevision, RfqMessage

# ----------------------------------------------------------------- output


def _money(**kwargs):
    return serializers.DecimalField(max_digits=20, decimal_places=2, coerce_to_string=True, **kwargs)


def _qty(**kwargs):
    return serializers.DecimalField(max_digits=18, decimal_places=3, coerce_to_string=True, **kwargs)


class PriceTierSerializer(serializers.Serializer):
    min_quantity = _qty()
    unit_price = _money()


class PhotoSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = ListingPhoto
        fields = ["id", "url", "content_type", "size", "width", "height", "created_at"]

    def get_url(self, obj) -> str:
        return reverse("trade:photo", args=[obj.pk])


class ListingSerializer(serializers.ModelSerializer):
    cluster_name = serializers.CharField(source="cluster.name")
    supplier_name = serializers.CharField(source="supplier.name")
    origin = serializers.CharField(source="origin_id")
    origin_name = serializers.CharField(source="origin.full_name")
    spec = serializers.DictField(child=serializers.JSONField())
    moq = _qty()
    available_quantity = _qty()
    status = serializers.ChoiceField(choices=ListingStatus.choices)
    tiers = PriceTierSerializer(many=True)
    photos = PhotoSerializer(many=True)

    class Meta:
        model = Listing
        fields = [
            "id",
            "cluster",
            "cluster_name",
            "supplier",
            "supplier_name",
            "category",
            "spec",
            "title",
            "description",
            "unit",
            "moq",
            "available_quantity",
            "lead_time_days",
            "origin",
            "origin_name",
            "currency",
            "tiers",
            "status",
            "status_reason",
            "published_at",
            "photos",
            "created_at",
            "updated_at",
        ]


class DemandSerializer(serializers.ModelSerializer):
    cluster_name = serializers.CharField(source="cluster.name")
    buyer_name = serializers.CharField(source="buyer.name")
    spec = serializers.DictField(child=serializers.JSONField())
    quantity = _qty()
    target_unit_price = _money(allow_null=True)
    delivery_region = serializers.CharField(source="delivery_region_id")
    delivery_region_name = serializers.CharField(source="delivery_region.full_name")
    visibility = serializers.ChoiceField(choices=DemandVisibility.choices)
    status = serializers.ChoiceField(choices=DemandStatus.choices)
    accepting_quotes = serializers.SerializerMethodField()
    invited = serializers.SerializerMethodField()

    class Meta:
        model = Demand
        fields = [
            "id",
            "cluster",
            "cluster_name",
            "buyer",
            "buyer_name",
            "title",
            "description",
            "category",
            "spec",
            "quantity",
            "unit",
            "target_unit_price",
            "currency",
            "delivery_region",
            "delivery_region_name",
            "needed_by",
            "quote_deadline",
            "visibility",
            "status",
            "status_reason",
            "accepting_quotes",
            "invited",
            "created_at",
        ]

    def get_accepting_quotes(self, obj) -> bool:
        return obj.status == DemandStatus.OPEN and obj.quote_deadline > timezone.now()

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField(), allow_null=True))
    def get_invited(self, obj):
        """The invited suppliers, for the buyer and the operator only (invitees never see each other)."""
        request = self.context.get("request")
        if request is None or not selectors.may_see_invitees(request.user, obj):
            return None
        return sorted(i.supplier_id for i in obj.invitations.all())


class RevisionSerializer(serializers.ModelSerializer):
    side = serializers.ChoiceField(choices=Side.choices)
    unit_price = _money()
    quantity = _qty()
    total = serializers.SerializerMethodField()
    payment_terms = serializers.ChoiceField(choices=PaymentTerms.choices)
    author = serializers.SerializerMethodField()

    class Meta:
        model = QuoteRevision
        fields = [
            "number",
            "side",
            "author",
            "unit_price",
            "quantity",
            "total",
            "delivery_date",
            "valid_until",
            "payment_terms",
            "note",
            "created_at",
        ]

    def get_total(self, obj) -> str:
        return f"{to_fen(obj.unit_price * obj.quantity):.2f}"

    def get_author(self, obj) -> str | None:
        return obj.author.username if obj.author_id and obj.author else None


class AwardSerializer(serializers.ModelSerializer):
    revision = serializers.IntegerField(source="revision.number")
    quantity = _qty()
    unit_price = _money()
    total = _money()
    payment_terms = serializers.ChoiceField(choices=PaymentTerms.choices)

    class Meta:
        model = AwardedTerms
        fields = [
            "id",
            "quote",
            "demand",
            "revision",
            "buyer",
            "supplier",
            "quantity",
            "unit",
            "unit_price",
            "total",
            "currency",
            "delivery_date",
            "payment_terms",
            "awarded_at",
        ]


class QuoteSerializer(serializers.ModelSerializer):
    supplier_name = serializers.CharField(source="supplier.name")
    unit = serializers.CharField(source="demand.unit")
    currency = serializers.CharField(source="demand.currency")
    status = serializers.ChoiceField(choices=QuoteStatus.choices)
    turn = serializers.ChoiceField(choices=Side.choices, allow_null=True)
    current = RevisionSerializer(source="current_revision")
    award = serializers.SerializerMethodField()

    class Meta:
        model = Quote
        fields = [
            "id",
            "demand",
            "cluster",
            "buyer",
            "supplier",
            "supplier_name",
            "status",
            "status_reason",
            "turn",
            "unit",
            "currency",
            "revision_count",
            "current",
            "award",
            "created_at",
            "updated_at",
        ]

    @staticmethod
    def _award(obj):
        try:
            return obj.award
        except AwardedTerms.DoesNotExist:
            return None

    def get_award(self, obj) -> dict | None:
        award = self._award(obj)
        return AwardSerializer(award).data if award is not None else None


class QuoteDetailSerializer(QuoteSerializer):
    revisions = RevisionSerializer(many=True)

    class Meta(QuoteSerializer.Meta):
        fields = [*QuoteSerializer.Meta.fields, "revisions"]


class MessageSerializer(serializers.ModelSerializer):
    side = serializers.ChoiceField(choices=Side.choices)
    author = serializers.SerializerMethodField()
    author_enterprise_name = serializers.CharField(source="author_enterprise.name")

    class Meta:
        model = RfqMessage
        fields = [
            "id",
            "quote",
            "demand",
            "side",
            "author",
            "author_enterprise",
            "author_enterprise_name",
            "body",
            "created_at",
        ]

    def get_author(self, obj) -> str | None:
        return obj.author.username if obj.author_id and obj.author else None


class PriceSerializer(serializers.Serializer):
    listing = serializers.IntegerField()
    quantity = _qty()
    unit = serializers.CharField()
    tier = PriceTierSerializer()
    unit_price = _money()
    total = _money()
    currency = serializers.CharField()


# ----------------------------------------------------------------- input

_ID = {"min_value": 1, "max_value": MAX_ID}
_NUMBER = {"max_length": 40, "help_text": "a decimal number, as a string"}


class TierInput(serializers.Serializer):
    min_quantity = serializers.CharField(**_NUMBER)
    unit_price = serializers.CharField(max_length=40, help_text="yuan per unit, at most 2 decimals")


class ListingInput(serializers.Serializer):
    cluster = serializers.IntegerField(**_ID)
    supplier = serializers.IntegerField(
        required=False, help_text="your enterprise (needed if you act for several)", **_ID
    )
    category = serializers.CharField(max_length=64, help_text="a category key of the cluster's pack")
    spec = serializers.DictField(
        child=serializers.JSONField(), required=False, help_text="attribute values, checked by the pack"
    )
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    unit = serializers.CharField(required=False, max_length=64, help_text="default: the category's unit")
    tiers = TierInput(many=True, help_text="ascending min_quantity; the first at or below the MOQ")
    moq = serializers.CharField(**_NUMBER)
    available_quantity = serializers.CharField(**_NUMBER)
    lead_time_days = serializers.IntegerField(
        required=False, min_value=0, max_value=services.MAX_LEAD_TIME_DAYS
    )
    origin = serializers.CharField(required=False, max_length=6, help_text="county code; default yours")


class ListingUpdateInput(ListingInput):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("cluster", "supplier"):
            self.fields.pop(name)
        for f in self.fields.values():
            f.required = False


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class TakeDownInput(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class PhotoInput(serializers.Serializer):
    file = serializers.FileField(help_text="JPEG, PNG or WebP, at most 5 MiB")


class DemandInput(serializers.Serializer):
    cluster = serializers.IntegerField(**_ID)
    buyer = serializers.IntegerField(
        required=False, help_text="your enterprise (needed if you act for several)", **_ID
    )
    title = serializers.CharField(required=False, allow_blank=True, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    category = serializers.CharField(max_length=64)
    spec = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text="constraints: a value, a range {min, max}, or a list of allowed enum values",
    )
    quantity = serializers.CharField(**_NUMBER)
    unit = serializers.CharField(required=False, max_length=64)
    target_unit_price = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=40
    )
    delivery_region = serializers.CharField(max_length=6, help_text="county code")
    needed_by = serializers.DateField()
    quote_deadline = serializers.DateTimeField()
    visibility = serializers.ChoiceField(choices=DemandVisibility.choices, required=False)
    invited = serializers.ListField(child=serializers.IntegerField(**_ID), required=False, max_length=50)


class TermsInput(serializers.Serializer):
    unit_price = serializers.CharField(max_length=40, help_text="yuan per unit, at most 2 decimals")
    quantity = serializers.CharField(**_NUMBER)
    delivery_date = serializers.DateField()
    valid_until = serializers.DateField()
    payment_terms = serializers.ChoiceField(choices=PaymentTerms.choices)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class QuoteInput(TermsInput):
    supplier = serializers.IntegerField(
        required=False, help_text="your enterprise (needed if you act for several)", **_ID
    )


class CounterInput(TermsInput):
    """Only the terms that change; the others are carried over from the latest revision."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for f in self.fields.values():
            f.required = False


class AwardInput(serializers.Serializer):
    quantity = serializers.CharField(
        required=False, max_length=40, help_text="default: the quoted quantity (a split award gives less)"
    )


class MessageInput(serializers.Serializer):
    body = serializers.CharField(max_length=services.MESSAGE_MAX_LENGTH)


def _parse(serializer_class, request, **kwargs) -> dict:
    s = serializer_class(data=request.data, **kwargs)
    s.is_valid(raise_exception=True)
    return dict(s.validated_data)


def _tiers(data: dict) -> dict:
    if "tiers" in data:
        data["tiers"] = [dict(t) for t in data["tiers"]]
    return data


# ----------------------------------------------------------------- views

LISTING_PARAMS = [
    OpenApiParameter("cluster", OpenApiTypes.INT, description="cluster id"),
    OpenApiParameter("category", OpenApiTypes.STR, description="category key of the cluster's pack"),
    OpenApiParameter("status", OpenApiTypes.STR, enum=ListingStatus.values),
    OpenApiParameter("supplier", OpenApiTypes.INT, description="supplier enterprise id"),
    OpenApiParameter("q", OpenApiTypes.STR, description="title or description contains"),
]


class ListingViewSet(
    ScopedObjectMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Supply listings. Published ones are visible to every signed-in user; the others to the supplier's
    users and the cluster's operators."""

    serializer_class = ListingSerializer
    queryset = Listing.objects.none()

    def get_queryset(self):
        if self.action != "list":
            return selectors.listings(self.request.user)
        params = self.request.query_params
        return selectors.listings(
            self.request.user,
            cluster=params.get("cluster"),
            category=params.get("category"),
            status=params.get("status"),
            supplier=params.get("supplier"),
            q=params.get("q"),
        )

    @extend_schema(parameters=LISTING_PARAMS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def _render(self, listing_id: int, code=status.HTTP_200_OK) -> Response:
        obj = one_or_404(selectors.listings(self.request.user), pk=listing_id)
        return Response(ListingSerializer(obj, context={"request": self.request}).data, status=code)

    @extend_schema(request=ListingInput, responses={201: ListingSerializer})
    def create(self, request):
        data = _tiers(_parse(ListingInput, request))
        listing = services.create_listing(request.user, **data)
        return self._render(listing.pk, status.HTTP_201_CREATED)

    @extend_schema(request=ListingUpdateInput, responses=ListingSerializer)
    def partial_update(self, request, pk=None):
        data = _tiers(_parse(ListingUpdateInput, request, partial=True))
        listing = services.update_listing(request.user, path_id(pk), **data)
        return self._render(listing.pk)

    @extend_schema(request=None, responses=ListingSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        return self._render(services.publish_listing(request.user, path_id(pk)).pk)

    @extend_schema(request=None, responses=ListingSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        return self._render(services.pause_listing(request.user, path_id(pk)).pk)

    @extend_schema(request=ReasonInput, responses=ListingSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        reason = _parse(ReasonInput, request).get("reason", "")
        return self._render(services.close_listing(request.user, path_id(pk), reason=reason).pk)

    @extend_schema(request=TakeDownInput, responses=ListingSerializer)
    @action(detail=True, methods=["post"], url_path="take-down")
    def take_down(self, request, pk=None):
        reason = _parse(TakeDownInput, request)["reason"]
        return self._render(services.take_down_listing(request.user, path_id(pk), reason=reason).pk)

    @extend_schema(
        parameters=[
            OpenApiParameter("quantity", OpenApiTypes.STR, required=True, description="in the listing's unit")
        ],
        responses=PriceSerializer,
    )
    @action(detail=True, methods=["get"])
    def price(self, request, pk=None):
        listing = self.get_object()
        result = selectors.price_for(listing, request.query_params.get("quantity"))
        quantity = values.quantity(request.query_params.get("quantity"))
        return Response(
            PriceSerializer(
                {
                    "listing": listing.pk,
                    "quantity": quantity,
                    "unit": listing.unit,
                    "tier": result.tier,
                    "unit_price": result.unit_price,
                    "total": result.total,
                    "currency": listing.currency,
                }
            ).data
        )

    @extend_schema(methods=["get"], responses=PhotoSerializer(many=True))
    @extend_schema(
        methods=["post"], request={"multipart/form-data": PhotoInput}, responses={201: PhotoSerializer}
    )
    @action(detail=True, methods=["get", "post"], parser_classes=[MultiPartParser, FormParser])
    def photos(self, request, pk=None):
        if request.method == "POST":
            upload = _parse(PhotoInput, request)["file"]
            photo = services.add_listing_photo(request.user, path_id(pk), upload)
            return Response(PhotoSerializer(photo).data, status=status.HTTP_201_CREATED)
        listing = self.get_object()
        page = self.paginate_queryset(selectors.listing_photos(request.user, listing))
        return self.get_paginated_response(PhotoSerializer(page, many=True).data)

    @extend_schema(
        parameters=[OpenApiParameter("photo_id", OpenApiTypes.INT, OpenApiParameter.PATH)],
        request=None,
        responses={204: None},
    )
    @action(detail=True, methods=["delete"], url_path=r"photos/(?P<photo_id>[^/.]+)")
    def remove_photo(self, request, pk=None, photo_id=None):
        services.remove_listing_photo(request.user, path_id(pk), path_id(photo_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


DEMAND_PARAMS = [
    OpenApiParameter("cluster", OpenApiTypes.INT, description="cluster id"),
    OpenApiParameter("status", OpenApiTypes.STR, enum=DemandStatus.values),
    OpenApiParameter("mine", OpenApiTypes.BOOL, description="only your enterprises' demands"),
]


class DemandViewSet(
    ScopedObjectMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Demands / RFQs: visible to the buyer's users, the cluster's operators and the suppliers addressed
    (every verified member for an open RFQ, the invitees for an invited one)."""

    serializer_class = DemandSerializer
    queryset = Demand.objects.none()

    def get_queryset(self):
        if self.action != "list":
            return selectors.demands(self.request.user)
        params = self.request.query_params
        return selectors.demands(
            self.request.user,
            cluster=params.get("cluster"),
            status=params.get("status"),
            mine=params.get("mine"),
        )

    @extend_schema(parameters=DEMAND_PARAMS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def _render(self, demand_id: int, code=status.HTTP_200_OK) -> Response:
        obj = one_or_404(selectors.demands(self.request.user), pk=demand_id)
        return Response(DemandSerializer(obj, context={"request": self.request}).data, status=code)

    @extend_schema(request=DemandInput, responses={201: DemandSerializer})
    def create(self, request):
        demand = services.post_demand(request.user, **_parse(DemandInput, request))
        return self._render(demand.pk, status.HTTP_201_CREATED)

    @extend_schema(request=ReasonInput, responses=DemandSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        reason = _parse(ReasonInput, request).get("reason", "")
        return self._render(services.close_demand(request.user, path_id(pk), reason=reason).pk)

    @extend_schema(request=ReasonInput, responses=DemandSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        reason = _parse(ReasonInput, request).get("reason", "")
        return self._render(services.cancel_demand(request.user, path_id(pk), reason=reason).pk)

    @extend_schema(methods=["get"], responses=QuoteSerializer(many=True))
    @extend_schema(methods=["post"], request=QuoteInput, responses={201: QuoteDetailSerializer})
    @action(detail=True, methods=["get", "post"])
    def quotes(self, request, pk=None):
        if request.method == "POST":
            data = _parse(QuoteInput, request)
            quote = services.submit_quote(request.user, path_id(pk), **data)
            return _render_quote(request, quote.pk, status.HTTP_201_CREATED)
        demand = self.get_object()
        page = self.paginate_queryset(selectors.demand_quotes(request.user, demand))
        return self.get_paginated_response(
            QuoteSerializer(page, many=True, context={"request": request}).data
        )


def _render_quote(request, quote_id: int, code=status.HTTP_200_OK) -> Response:
    obj = one_or_404(selectors.quotes(request.user).prefetch_related("revisions__author"), pk=quote_id)
    return Response(QuoteDetailSerializer(obj, context={"request": request}).data, status=code)


class QuoteViewSet(ScopedObjectMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """A quote and its negotiation: only the buyer's and the supplier's users see it."""

    serializer_class = QuoteDetailSerializer
    queryset = Quote.objects.none()

    def get_queryset(self):
        return selectors.quotes(self.request.user).prefetch_related("revisions__author")

    @extend_schema(request=CounterInput, responses=QuoteDetailSerializer)
    @action(detail=True, methods=["post"])
    def counter(self, request, pk=None):
        quote = services.counter_quote(request.user, path_id(pk), **_parse(CounterInput, request))
        return _render_quote(request, quote.pk)

    @extend_schema(request=CounterInput, responses=QuoteDetailSerializer)
    @action(detail=True, methods=["post"])
    def revise(self, request, pk=None):
        quote = services.revise_quote(request.user, path_id(pk), **_parse(CounterInput, request))
        return _render_quote(request, quote.pk)

    @extend_schema(request=ReasonInput, responses=QuoteDetailSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        reason = _parse(ReasonInput, request).get("reason", "")
        return _render_quote(request, services.withdraw_quote(request.user, path_id(pk), reason=reason).pk)

    @extend_schema(request=ReasonInput, responses=QuoteDetailSerializer)
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        reason = _parse(ReasonInput, request).get("reason", "")
        return _render_quote(request, services.decline_quote(request.user, path_id(pk), reason=reason).pk)

    @extend_schema(request=AwardInput, responses={201: AwardSerializer})
    @action(detail=True, methods=["post"])
    def award(self, request, pk=None):
        terms = services.award_quote(request.user, path_id(pk), _parse(AwardInput, request).get("quantity"))
        return Response(AwardSerializer(terms).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["get"], responses=MessageSerializer(many=True))
    @extend_schema(methods=["post"], request=MessageInput, responses={201: MessageSerializer})
    @action(detail=True, methods=["get", "post"])
    def messages(self, request, pk=None):
        if request.method == "POST":
            message = services.post_message(request.user, path_id(pk), _parse(MessageInput, request)["body"])
            return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)
        quote = self.get_object()
        page = self.paginate_queryset(selectors.quote_messages(request.user, quote))
        return self.get_paginated_response(MessageSerializer(page, many=True).data)
