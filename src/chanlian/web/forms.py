"""Forms of the pages: they parse and render input. The rules live in the registry's services."""

from __future__ import annotations

from django import forms
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from chanlian.registry.choices import EnterpriseKind, EnterpriseRole, MembershipStatus

# A county autocomplete: htmx fills the datalist from the region selector while the person types.
REGION_ATTRS = {
    "list": "region-options",
    "autocomplete": "off",
    "spellcheck": "false",
    "placeholder": _("e.g. 350524 or 安溪县"),
    "hx-get": reverse_lazy("web:region-suggest"),
    "hx-trigger": "input changed delay:250ms",
    "hx-target": "#region-options",
    "hx-swap": "innerHTML",
    "hx-push-url": "false",
    "hx-indicator": "closest .field",
}


class SignUpForm(forms.Form):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        help_text=_("Letters, digits and @/./+/-/_ only."),
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    email = forms.CharField(
        label=_("Email (optional)"),
        max_length=254,
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        help_text=_("At least 8 characters."),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password2") and data["password1"] != data["password2"]:
            self.add_error("password2", _("The two passwords do not match."))
        return data


class DirectoryFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Search"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Enterprise name or USCC")}),
    )
    cluster = forms.ChoiceField(label=_("Cluster"), required=False)
    stage = forms.ChoiceField(label=_("Chain stage"), required=False)
    region = forms.CharField(
        label=_("Region"), max_length=64, required=False, widget=forms.TextInput(attrs=REGION_ATTRS)
    )
    status = forms.ChoiceField(label=_("Verification status"), required=False)

    def __init__(self, *args, stage_choices=(), cluster_choices=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage"].choices = [("", _("All stages")), *stage_choices]
        self.fields["status"].choices = [("", _("Any status")), *MembershipStatus.choices]
        if cluster_choices is None:
            del self.fields["cluster"]
        else:
            self.fields["cluster"].choices = [("", _("All clusters")), *cluster_choices]


class EnterpriseProfileForm(forms.Form):
    name = forms.CharField(label=_("Enterprise name"), max_length=200)
    region = forms.CharField(
        label=_("Region"),
        max_length=64,
        help_text=_("The 6-digit code of the county where the enterprise is registered."),
        widget=forms.TextInput(attrs=REGION_ATTRS),
    )
    description = forms.CharField(
        label=_("Description"), max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    contact_name = forms.CharField(label=_("Contact person"), max_length=64, required=False)
    contact_phone = forms.CharField(
        label=_("Contact phone"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )
    contact_email = forms.CharField(
        label=_("Contact email"),
        max_length=254,
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    address = forms.CharField(label=_("Address"), max_length=200, required=False)
    website = forms.CharField(label=_("Website"), max_length=200, required=False, widget=forms.URLInput())

    service_fields = (
        "name",
        "region",
        "description",
        "contact_name",
        "contact_phone",
        "contact_email",
        "address",
        "website",
    )


class EnterpriseRegisterForm(EnterpriseProfileForm):
    uscc = forms.CharField(
        label=_("Unified social credit code"),
        max_length=40,
        help_text=_("18 characters, as printed on the business licence."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "class": "mono"}),
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=EnterpriseKind.choices, initial=EnterpriseKind.COMPANY)
    cluster = forms.ChoiceField(
        label=_("Cluster to join"),
        required=False,
        help_text=_("The cluster's operator verifies new members."),
    )
    chain_roles = forms.MultipleChoiceField(
        label=_("Chain roles"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The stages of the chain the enterprise works in."),
    )

    field_order = (
        "name",
        "uscc",
        "kind",
        "region",
        "cluster",
        "chain_roles",
        "description",
        "contact_name",
        "contact_phone",
        "contact_email",
        "address",
        "website",
    )

    def __init__(self, *args, cluster_choices=(), stage_choices=(), allow_kind=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cluster"].choices = [("", _("None for now")), *cluster_choices]
        self.fields["chain_roles"].choices = list(stage_choices)
        if not allow_kind:
            del self.fields["kind"]


class InviteForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=EnterpriseRole.choices, initial=EnterpriseRole.STAFF)
    note = forms.CharField(
        label=_("Note"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. for the sales manager")}),
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=EnterpriseRole.choices)


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": _("Why is this application rejected?")}),
    )
