from django.db import models
from django.utils.translation import gettext_lazy as _


class EnterpriseKind(models.TextChoices):
    COMPANY = "company", _("Enterprise")
    LENDER = "lender", _("Financial institution")
    GOVERNMENT = "government", _("Government body")


class ClusterStatus(models.TextChoices):
    PLANNING = "planning", _("Planning")
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")


class MembershipStatus(models.TextChoices):
    PENDING = "pending", _("Pending verification")
    VERIFIED = "verified", _("Verified")
    REJECTED = "rejected", _("Rejected")
    SUSPENDED = "suspended", _("Suspended")


# Who may move a membership from one status to another: the cluster operator decides, the enterprise
# (re)applies. Anything not listed answers 409 ``illegal_transition``.
MEMBERSHIP_TRANSITIONS: dict[str, dict[str, str]] = {
    MembershipStatus.PENDING: {MembershipStatus.VERIFIED: "operator", MembershipStatus.REJECTED: "operator"},
    MembershipStatus.REJECTED: {MembershipStatus.PENDING: "enterprise"},
    MembershipStatus.VERIFIED: {MembershipStatus.SUSPENDED: "operator"},
    MembershipStatus.SUSPENDED: {MembershipStatus.VERIFIED: "operator"},
}


class EnterpriseRole(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    STAFF = "staff", _("Staff")
    VIEWER = "viewer", _("Viewer")
