from django.contrib.auth import views as auth_views
from django.urls import path

from chanlian.core.auth import LoginForm

from . import views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="web/login.html", redirect_authenticated_user=True, authentication_form=LoginForm
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signup/", views.signup, name="signup"),
    path("clusters/<int:pk>/", views.cluster_detail, name="cluster"),
    path("clusters/<int:pk>/directory/", views.directory, name="cluster-directory"),
    path("directory/", views.directory, name="directory"),
    path("regions/suggest/", views.region_suggest, name="region-suggest"),
    path("enterprises/register/", views.register, name="register"),
    path("enterprises/register/stages/", views.register_stages, name="register-stages"),
    path("enterprises/<int:pk>/", views.enterprise_detail, name="enterprise"),
    path("enterprises/<int:pk>/manage/", views.manage, name="manage"),
    path("enterprises/<int:pk>/manage/invite/", views.invite, name="invite"),
    path("enterprises/<int:pk>/manage/invitations/<int:invitation_id>/revoke/", views.revoke, name="revoke"),
    path(
        "enterprises/<int:pk>/manage/users/<int:employment_id>/role/", views.change_role, name="change-role"
    ),
    path(
        "enterprises/<int:pk>/manage/users/<int:employment_id>/remove/", views.remove_user, name="remove-user"
    ),
    path("operator/", views.operator_console, name="operator"),
    path("operator/memberships/<int:pk>/verify/", views.decide, {"decision": "verify"}, name="verify"),
    path("operator/memberships/<int:pk>/reject/", views.decide, {"decision": "reject"}, name="reject"),
    path("me/", views.me, name="me"),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
]
