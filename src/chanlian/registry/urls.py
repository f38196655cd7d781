from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter(trailing_slash=True)
router.register("clusters", api.ClusterViewSet, basename="cluster")
router.register("enterprises", api.EnterpriseViewSet, basename="enterprise")
router.register("memberships", api.MembershipViewSet, basename="membership")
router.register("invitations", api.InvitationViewSet, basename="invitation")
router.register("employments", api.EmploymentViewSet, basename="employment")

api_urlpatterns = [
    path("auth/signup/", api.SignUpView.as_view(), name="signup"),
    path("me/", api.MeView.as_view(), name="me"),
    *router.urls,
]
