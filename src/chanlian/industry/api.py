"""Read-only API over industry packs: ``/api/v1/industry-packs/`` and ``…/<key>/``.

Packs are files, not rows, so this is a plain ``ViewSet`` over ``all_packs()``; the serializers read the
frozen dataclasses and exist mostly so the OpenAPI schema documents the whole pack. Decimals (unit
factors, attribute bounds, basket weights) are strings, as money is.
"""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.response import Response

from chanlian.core.api import Pagination

from .packs import ATTRIBUTE_TYPES, DIMENSIONS, STAGE_KINDS, all_packs, get_pack


@extend_schema_field(OpenApiTypes.STR)
class DecimalStringField(serializers.Field):
    """A Decimal as a plain string (``"0.001"``, never ``"1E-3"``); read-only."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value: Decimal) -> str:
        return format(value, "f")


class ChoiceSerializer(serializers.Serializer):
    key = serializers.CharField()
    name_zh = serializers.CharField()
    name_en = serializers.CharField()
    description_zh = serializers.CharField()
    description_en = serializers.CharField()
    aliases = serializers.ListField(child=serializers.CharField())


class AttributeSerializer(serializers.Serializer):
    key = serializers.CharField()
    name_zh = serializers.CharField()
    name_en = serializers.CharField()
    type = serializers.ChoiceField(choices=ATTRIBUTE_TYPES)
    required = serializers.BooleanField()
    unit = serializers.CharField(allow_null=True)
    min = DecimalStringField(
        allow_null=True, help_text="Inclusive lower bound (decimal and integer), as a string."
    )
    max = DecimalStringField(
        allow_null=True, help_text="Inclusive upper bound (decimal and integer), as a string."
    )
    decimals = serializers.IntegerField(allow_null=True, help_text="Maximum decimal places (decimal only).")
    max_length = serializers.IntegerField(allow_null=True, help_text="Maximum characters (text only).")
    choices = ChoiceSerializer(many=True, help_text="Allowed values (enum only).")
    filterable = serializers.BooleanField()
    hard = serializers.BooleanField(help_text="In matching, a listing failing this constraint is excluded.")
    from_grades = serializers.BooleanField(
        help_text="The category's quality grade, built from the pack's grades."
    )
    description_zh = serializers.CharField()
    description_en = serializers.CharField()


class CategorySerializer(serializers.Serializer):
    key = serializers.CharField()
    name_zh = serializers.CharField()
    name_en = serializers.CharField()
    description_zh = serializers.CharField()
    description_en = serializers.CharField()
    stage = serializers.CharField(help_text="Key of the chain stage that sells this category.")
    unit = serializers.CharField(help_text="Default trade unit key.")
    units = serializers.ListField(child=serializers.CharField(), help_text="Allowed trade unit keys.")
    grades = serializers.ListField(
        child=serializers.CharField(), help_text="Grade keys that apply, best first."
    )
    grade_required = serializers.BooleanField()
    standards = serializers.ListField(child=serializers.CharField())
    attributes = AttributeSerializer(many=True)


class UnitSerializer(serializers.Serializer):
    key = serializers.CharField()
    name_zh = serializers.CharField()
    name_en = serializers.CharField()
    symbol = serializers.CharField()
    dimension = serializers.ChoiceField(choices=list(DIMENSIONS))
    base = serializers.CharField(help_text="Base quantity of the dimension: kg, item, m or m2.")
    factor = DecimalStringField(help_text="Base units in one of this unit, e.g. 0.5 for 斤.")


class StageSerializer(serializers.Serializer):
    key = serializers.CharField()
    name_zh = serializers.CharField()
    name_en = serializers.CharField()
    order = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=STAGE_KINDS)
    description_zh = serializers.CharField()
    description_en = serializers.CharField()
    supplies = serializers.ListField(child=serializers.CharField(), help_text="Stage keys this stage feeds.")


class GradeSerializer(serializers.Serializer):
    key = serializers.CharField()
    name_zh = serializers.CharField()
    name_en = serializers.CharField()
    rank = serializers.IntegerField(help_text="1 is the best.")
    standard = serializers.CharField()
    description_zh = serializers.CharField()
    description_en = serializers.CharField()
    note = serializers.CharField()


class BasketItemSerializer(serializers.Serializer):
    key = serializers.CharField()
    category = serializers.CharField()
    name_zh = serializers.CharField()
    name_en = serializers.CharField()
    spec = serializers.SerializerMethodField(help_text="Spec constraints, cleaned as in constraint mode.")
    weight = DecimalStringField()
    unit = serializers.CharField(help_text="Unit the item's price is quoted in.")

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_spec(self, item) -> dict:
        return item.spec_dict()


class BasketSerializer(serializers.Serializer):
    description_zh = serializers.CharField()
    description_en = serializers.CharField()
    items = BasketItemSerializer(many=True)


class PackCountsSerializer(serializers.Serializer):
    stages = serializers.IntegerField()
    units = serializers.IntegerField()
    grades = serializers.IntegerField()
    categories = serializers.IntegerField()
    attributes = serializers.IntegerField()
    basket_items = serializers.IntegerField()


class PackSummarySerializer(serializers.Serializer):
    key = serializers.CharField()
    version = serializers.CharField()
    name_zh = serializers.CharField()
    name_en = serializers.CharField()
    description_zh = serializers.CharField()
    description_en = serializers.CharField()
    currency = serializers.CharField()
    counts = PackCountsSerializer()


class PackSerializer(serializers.Serializer):
    key = serializers.CharField()
    version = serializers.CharField()
    name_zh = serializers.CharField()
    name_en = serializers.CharField()
    description_zh = serializers.CharField()
    description_en = serializers.CharField()
    currency = serializers.CharField()
    stages = StageSerializer(many=True)
    units = UnitSerializer(many=True)
    grades = GradeSerializer(many=True)
    categories = CategorySerializer(many=True)
    basket = BasketSerializer(allow_null=True)


@extend_schema_view(
    list=extend_schema(summary="List industry packs", responses=PackSummarySerializer(many=True)),
    retrieve=extend_schema(
        summary="Get an industry pack: stages, units, grades, categories with attributes, basket",
        parameters=[
            OpenApiParameter(
                "key", OpenApiTypes.STR, OpenApiParameter.PATH, description="Pack key, e.g. tea."
            )
        ],
        responses=PackSerializer,
    ),
)
class IndustryPackViewSet(viewsets.ViewSet):
    """Industry packs (产业包) shipped with the platform or added by the operator."""

    # Any key reaches the view, so an unknown one answers the JSON 404 rather than Django's page.
    lookup_field = "key"
    pagination_class = Pagination
    _paginator = None

    @property
    def paginator(self):
        if self._paginator is None:
            self._paginator = self.pagination_class()
        return self._paginator

    def list(self, request):
        packs = all_packs()
        page = self.paginator.paginate_queryset(packs, request, view=self)
        data = PackSummarySerializer(page, many=True).data
        return self.paginator.get_paginated_response(data)

    def retrieve(self, request, key: str | None = None):
        return Response(PackSerializer(get_pack(key)).data)
