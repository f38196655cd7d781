"""Registry API: thin. Serializers parse and render; services decide."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from chanlian.core.api import ScopedObjectMixin
from chanlian.core.params import path_id
from chanlian.core.permissions import get_or_404, one_or_404

from . import selectors, services
from .choices import EnterpriseKind, EnterpriseRole, MembershipStatus
from .models import Cluster, Employment, Enterprise, Invitation, Membership
from .principal import principal_for

# ----------------------------------------------------------------- output


class ClusterSerializer(serializers.ModelSerializer):
    region = serializers.CharField(source="region_id")
    region_name = serializers.CharField(source="region.name")
    operator = serializers.IntegerField(source="operator_id")
    operator_name = serializers.CharField(source="operator.name")
    fee_rate = serializers.DecimalField(max_digits=5, decimal_places=4, read_only=True)

    class Meta:
        model = Cluster
        fields = [
            "id",
            "name",
            "region",
            "region_name",
            "pack_key",
            "operator",
            "operator_name",
            "status",
            "description",
            "fee_rate",
            "created_at",
        ]


class MembershipBriefSerializer(serializers.Serializer):
    """Reads a ``Membership`` or a ``selectors.MembershipRow`` alike."""

    id = serializers.IntegerField()
    cluster = serializers.IntegerField(source="cluster_id")
    cluster_name = serializers.CharField(source="cluster.name")
    status = serializers.ChoiceField(choices=MembershipStatus.choices)
    reason = serializers.CharField()
    chain_roles = serializers.ListField(child=serializers.CharField(), source="stages")
    decided_at = serializers.DateTimeField(allow_null=True)


class EnterpriseSerializer(serializers.ModelSerializer):
    region_name = serializers.CharField(source="region.name")
    memberships = MembershipBriefSerializer(many=True, source="visible_memberships")
    contact = serializers.SerializerMethodField()

    class Meta:
        model = Enterprise
        fields = [
            "id",
            "name",
            "uscc",
            "kind",
            "region",
            "region_name",
            "description",
            "website",
            "memberships",
            "contact",
            "created_at",
        ]

    def get_contact(self, obj) -> dict | None:
        if not selectors.may_see_contact(self.context["request"].user, obj):
            return None
        return {
            "name": obj.contact_name,
            "phone": obj.contact_phone,
            "email": obj.contact_email,
            "address": obj.address,
        }


class MembershipSerializer(MembershipBriefSerializer):
    enterprise = serializers.IntegerField(source="enterprise_id")
    enterprise_name = serializers.CharField(source="enterprise.name")
    created_at = serializers.DateTimeField()


class EmploymentSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")

    class Meta:
        model = Employment
        fields = ["id", "enterprise", "username", "role", "created_at"]


class InvitationSerializer(serializers.ModelSerializer):
    state = serializers.CharField()
    invited_by = serializers.CharField(source="invited_by.username")

    class Meta:
        model = Invitation
        fields = [
            "id",
            "enterprise",
            "role",
            "note",
            "token",
            "state",
            "invited_by",
            "expires_at",
            "accepted_at",
        ]


# ----------------------------------------------------------------- input


class ClusterInput(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    region = serializers.CharField(max_length=6)
    pack_key = serializers.CharField(max_length=64)
    operator = serializers.IntegerField(min_value=1)
    status = serializers.ChoiceField(choices=["planning", "active", "suspended"], required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    government_bodies = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False)


class EnterpriseInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    uscc = serializers.CharField(max_length=40)
    region = serializers.CharField(max_length=6)
    kind = serializers.ChoiceField(choices=EnterpriseKind.choices, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    address = serializers.CharField(required=False, allow_blank=True, max_length=200)
    contact_name = serializers.CharField(required=False, allow_blank=True, max_length=64)
    contact_phone = serializers.CharField(required=False, allow_blank=True, max_length=32)
    contact_email = serializers.CharField(required=False, allow_blank=True, max_length=254)
    website = serializers.CharField(required=False, allow_blank=True, max_length=200)
    cluster = serializers.IntegerField(required=False, min_value=1)
    chain_roles = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=20
    )


class EnterpriseUpdateInput(EnterpriseInput):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("cluster", "chain_roles", "kind"):
            self.fields.pop(name)
        for f in self.fields.values():
            f.required = False


class DecisionInput(serializers.Serializer):
    cluster = serializers.IntegerField(required=False, min_value=1)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class ApplyInput(serializers.Serializer):
    cluster = serializers.IntegerField(min_value=1)
    chain_roles = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=20
    )


class InviteInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=EnterpriseRole.choices)
    note = serializers.CharField(required=False, allow_blank=True, max_length=200)


class AcceptInput(serializers.Serializer):
    token = serializers.CharField(max_length=64)


class RoleInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=EnterpriseRole.choices)


def _parse(serializer_class, request, **kwargs) -> dict:
    s = serializer_class(data=request.data, **kwargs)
    s.is_valid(raise_exception=True)
    return dict(s.validated_data)


# ----------------------------------------------------------------- views


class ClusterViewSet(
    ScopedObjectMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = ClusterSerializer
    queryset = Cluster.objects.none()

    def get_queryset(self):
        return selectors.clusters(self.request.user)

    @extend_schema(request=ClusterInput, responses={201: ClusterSerializer})
    def create(self, request):
        cluster = services.create_cluster(request.user, **_parse(ClusterInput, request))
        return Response(ClusterSerializer(cluster).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ClusterInput, responses=ClusterSerializer)
    def partial_update(self, request, pk=None):
        cluster = get_or_404(Cluster, request.user, pk=pk)
        cluster = services.update_cluster(
            request.user, cluster, **_parse(ClusterInput, request, partial=True)
        )
        return Response(ClusterSerializer(cluster).data)


DIRECTORY_PARAMS = [
    OpenApiParameter("cluster", OpenApiTypes.INT, description="cluster id"),
    OpenApiParameter("stage", OpenApiTypes.STR, description="chain stage key from the cluster's pack"),
    OpenApiParameter(
        "region",
        OpenApiTypes.STR,
        description="6-digit region code; a province or city matches all its counties",
    ),
    OpenApiParameter(
        "status", OpenApiTypes.STR, enum=MembershipStatus.values, description="verification status"
    ),
    OpenApiParameter("kind", OpenApiTypes.STR, enum=EnterpriseKind.values),
    OpenApiParameter("q", OpenApiTypes.STR, description="name contains, or exact USCC"),
]


class EnterpriseViewSet(
    ScopedObjectMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = EnterpriseSerializer
    queryset = Enterprise.objects.none()

    def get_queryset(self):
        params = self.request.query_params
        if self.action != "list":
            return selectors.enterprises(self.request.user)
        return selectors.enterprises(
            self.request.user,
            cluster=params.get("cluster"),
            stage=params.get("stage"),
            region=params.get("region"),
            status=params.get("status"),
            kind=params.get("kind"),
            q=params.get("q"),
        )

    @extend_schema(parameters=DIRECTORY_PARAMS)
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        selectors.attach_memberships(request.user, page)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        return self._render(path_id(kwargs["pk"]))

    def _render(self, enterprise_id: int, code=status.HTTP_200_OK) -> Response:
        obj = one_or_404(selectors.enterprises(self.request.user), pk=enterprise_id)
        selectors.attach_memberships(self.request.user, [obj])
        return Response(self.get_serializer(obj).data, status=code)

    @extend_schema(request=EnterpriseInput, responses={201: EnterpriseSerializer})
    def create(self, request):
        data = _parse(EnterpriseInput, request)
        enterprise = services.register_enterprise(request.user, **data)
        return self._render(enterprise.pk, status.HTTP_201_CREATED)

    @extend_schema(request=EnterpriseUpdateInput, responses=EnterpriseSerializer)
    def partial_update(self, request, pk=None):
        services.update_enterprise(request.user, _pk(pk), **_parse(EnterpriseUpdateInput, request))
        return self._render(_pk(pk))

    @extend_schema(request=DecisionInput, responses=MembershipSerializer)
    @action(detail=True, methods=["post"])
    def verify(self, request, pk=None):
        data = _parse(DecisionInput, request)
        m = services.verify_membership(request.user, _pk(pk), cluster_id=data.get("cluster"))
        return Response(MembershipSerializer(m).data)

    @extend_schema(request=DecisionInput, responses=MembershipSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        data = _parse(DecisionInput, request)
        m = services.reject_membership(
            request.user, _pk(pk), reason=data.get("reason", ""), cluster_id=data.get("cluster")
        )
        return Response(MembershipSerializer(m).data)

    @extend_schema(request=ApplyInput, responses={201: MembershipSerializer})
    @action(detail=True, methods=["post"])
    def apply(self, request, pk=None):
        data = _parse(ApplyInput, request)
        m = services.apply_for_membership(
            request.user, _pk(pk), data["cluster"], chain_roles=data.get("chain_roles", [])
        )
        return Response(MembershipSerializer(m).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=EmploymentSerializer(many=True))
    @action(detail=True, methods=["get"])
    def users(self, request, pk=None):
        enterprise = get_or_404(Enterprise, request.user, "manage", pk=_pk(pk))
        rows = selectors.employees(request.user, enterprise.pk)
        return Response(EmploymentSerializer(rows, many=True).data)

    @extend_schema(methods=["get"], responses=InvitationSerializer(many=True))
    @extend_schema(methods=["post"], request=InviteInput, responses={201: InvitationSerializer})
    @action(detail=True, methods=["get", "post"])
    def invitations(self, request, pk=None):
        enterprise = get_or_404(Enterprise, request.user, "manage", pk=_pk(pk))
        if request.method == "POST":
            data = _parse(InviteInput, request)
            inv = services.invite_user(request.user, enterprise.pk, **data)
            return Response(InvitationSerializer(inv).data, status=status.HTTP_201_CREATED)
        return Response(
            InvitationSerializer(selectors.invitations(request.user, enterprise.pk), many=True).data
        )


def _pk(pk) -> int:
    return path_id(pk)


class MembershipViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Memberships you may see: your own, and for operators every membership of their clusters."""

    serializer_class = MembershipSerializer
    queryset = Membership.objects.none()

    def get_queryset(self):
        params = self.request.query_params
        return selectors.memberships(
            self.request.user, cluster=params.get("cluster"), status=params.get("status")
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("cluster", OpenApiTypes.INT),
            OpenApiParameter("status", OpenApiTypes.STR, enum=MembershipStatus.values),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


class InvitationViewSet(viewsets.GenericViewSet):
    serializer_class = InvitationSerializer
    queryset = Invitation.objects.none()

    @extend_schema(request=AcceptInput, responses={201: EmploymentSerializer})
    @action(detail=False, methods=["post"])
    def accept(self, request):
        employment = services.accept_invitation(request.user, _parse(AcceptInput, request)["token"])
        return Response(EmploymentSerializer(employment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=InvitationSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        return Response(InvitationSerializer(services.revoke_invitation(request.user, _pk(pk))).data)


class EmploymentViewSet(viewsets.GenericViewSet):
    serializer_class = EmploymentSerializer
    queryset = Employment.objects.none()

    @extend_schema(request=RoleInput, responses=EmploymentSerializer)
    def partial_update(self, request, pk=None):
        return Response(
            EmploymentSerializer(
                services.change_role(request.user, _pk(pk), _parse(RoleInput, request)["role"])
            ).data
        )

    def destroy(self, request, pk=None):
        services.remove_user(request.user, _pk(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SignUpInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, write_only=True)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True)


class SignUpView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        request=SignUpInput,
        responses={
            201: inline_serializer(
                "SignUpResult", {"id": serializers.IntegerField(), "username": serializers.CharField()}
            )
        },
    )
    def post(self, request):
        user = services.sign_up(**_parse(SignUpInput, request))
        return Response({"id": user.pk, "username": user.username}, status=status.HTTP_201_CREATED)


class MeView(APIView):
    @extend_schema(
        responses=inline_serializer(
            "Me",
            {
                "id": serializers.IntegerField(),
                "username": serializers.CharField(),
                "is_platform_admin": serializers.BooleanField(),
                "enterprises": serializers.ListField(child=serializers.DictField()),
                "operated_clusters": serializers.ListField(child=serializers.IntegerField()),
                "member_clusters": serializers.ListField(child=serializers.IntegerField()),
                "overseen_clusters": serializers.ListField(child=serializers.IntegerField()),
            },
        )
    )
    def get(self, request):
        p = principal_for(request.user)
        names = dict(Enterprise.objects.filter(id__in=p.enterprise_ids).values_list("id", "name"))
        return Response(
            {
                "id": request.user.pk,
                "username": request.user.get_username(),
                "is_platform_admin": p.is_platform_admin,
                "enterprises": [
                    {"id": eid, "name": names.get(eid), "role": role, "kind": p.kinds[eid]}
                    for eid, role in sorted(p.roles.items())
                ],
                "operated_clusters": sorted(p.operated_cluster_ids),
                "member_clusters": sorted(p.member_cluster_ids),
                "overseen_clusters": sorted(p.overseen_cluster_ids),
            }
        )
