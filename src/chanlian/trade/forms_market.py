"""Forms of the market pages: they parse and render input; the rules live in ``services/market.py``.

Every field is text as typed (numbers included), so the services' own codes and messages
(``too_many_decimals``, ``below_moq``…) reach the page. The specification fields are generated from the
pack's category attributes: an enum is a select (a set of checkboxes for a demand's constraint), a decimal
or integer a number with its unit (a from–to range for a demand), a text a text box, a boolean yes/no.
"""

from __future__ import annotations

from django import forms
from django.urls import reverse_lazy
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from chanlian.regions.selectors import read_region_code as region_code

from .choices import DemandVisibility, PaymentTerms

MAX_TIER_ROWS = 10

# The county autocomplete of the directory page: htmx fills the datalist while the person types.
REGION_ATTRS = {
    "list": "region-options",
    "autocomplete": "off",
    "spellcheck": "false",
    "placeholder": _("e.g. 350524 or 安溪县"),
    "hx-get": reverse_lazy("web:region-suggest"),
    "hx-trigger": "input changed delay:250ms",
    # The suggestion view reads ``q``; these fields have their own names (origin, delivery_region).
    "hx-vals": 'js:{"q": this.value}',
    "hx-target": "#region-options",
    "hx-swap": "innerHTML",
    "hx-push-url": "false",
    "hx-indicator": "closest .field",
}
NUMBER_ATTRS = {"inputmode": "decimal", "autocomplete": "off", "class": "num-input"}


def is_english() -> bool:
    return (get_language() or "").lower().startswith("en")


def local(obj) -> str:
    """``name_en`` or ``name_zh`` of a pack object in the active language."""
    if obj is None:
        return ""
    first, second = ("name_en", "name_zh") if is_english() else ("name_zh", "name_en")
    return str(getattr(obj, first, "") or getattr(obj, second, "") or getattr(obj, "key", obj))


def attr_label(attr) -> str:
    name = local(attr)
    return f"{name} ({attr.unit})" if attr.unit else name


def unit_label(pack, key: str) -> str:
    try:
        unit = pack.unit(key)
    except Exception:
        return key
    return f"{local(unit)} · {unit.symbol}" if unit.symbol and unit.symbol != local(unit) else local(unit)


def unit_symbol(pack, key: str) -> str:
    return pack.unit_symbol(key)


def _text(label, *, required=False, max_length=200, **attrs):
    return forms.CharField(
        label=label, required=required, max_length=max_length, widget=forms.TextInput(attrs=attrs)
    )


def _number(label, *, required=False, placeholder="", **attrs):
    return forms.CharField(
        label=label,
        required=required,
        max_length=40,
        widget=forms.TextInput(
            attrs={**NUMBER_ATTRS, **({"placeholder": placeholder} if placeholder else {}), **attrs}
        ),
    )


def _date(label, *, required=False):
    return forms.CharField(
        label=label, required=required, max_length=40, widget=forms.DateInput(attrs={"type": "date"})
    )


def _enterprise_field(form, name, choices, label):
    if len(choices) > 1:
        form.fields[name] = forms.ChoiceField(label=label, choices=[("", "—"), *choices], required=False)
        form.order_fields([name, *[f for f in form.fields if f != name]])


YES_NO = (("", "—"), ("true", _("Yes")), ("false", _("No")))


class SpecFieldsMixin:
    """Adds ``spec__<attr>`` fields for ``category`` (exact values) or constraints (``constraint``)."""

    spec_mode = "exact"

    def add_spec_fields(self, category):
        self.spec_category = category
        self.spec_names: list[dict] = []
        if category is None:
            return
        for attr in category.attributes:
            name = f"spec__{attr.key}"
            label = attr_label(attr)
            required = attr.required and self.spec_mode == "exact"
            entry = {"attr": attr, "name": name, "required": required, "range": False}
            if attr.type == "enum":
                choices = [(c.key, local(c)) for c in attr.choices]
                if self.spec_mode == "constraint":
                    self.fields[name] = forms.MultipleChoiceField(
                        label=label, choices=choices, required=False, widget=forms.CheckboxSelectMultiple
                    )
                    entry["multi"] = True
                else:
                    self.fields[name] = forms.ChoiceField(
                        label=label, choices=[("", "—"), *choices], required=False
                    )
            elif attr.type in ("decimal", "integer"):
                bounds = ""
                if attr.min is not None and attr.max is not None:
                    bounds = f"{attr.min}–{attr.max}"
                if self.spec_mode == "constraint":
                    self.fields[f"{name}__min"] = _number(label, placeholder=_("from"))
                    self.fields[f"{name}__max"] = _number(label, placeholder=_("to"))
                    entry["range"] = True
                else:
                    self.fields[name] = _number(label, placeholder=bounds)
                entry["unit"] = attr.unit or ""
            elif attr.type == "boolean":
                self.fields[name] = forms.ChoiceField(label=label, choices=YES_NO, required=False)
            else:
                self.fields[name] = _text(label, max_length=(attr.max_length or 200) + 50)
            self.spec_names.append(entry)

    def spec_entries(self):
        """The spec fields as bound fields, for the template."""
        rows = []
        for entry in getattr(self, "spec_names", []):
            name = entry["name"]
            if entry["range"]:
                rows.append({**entry, "low": self[f"{name}__min"], "high": self[f"{name}__max"]})
            else:
                rows.append({**entry, "field": self[name]})
        return rows

    def spec_value(self) -> dict:
        data = self.cleaned_data
        spec: dict = {}
        for entry in getattr(self, "spec_names", []):
            key, name = entry["attr"].key, entry["name"]
            if entry["range"]:
                low = (data.get(f"{name}__min") or "").strip()
                high = (data.get(f"{name}__max") or "").strip()
                if low and high and low == high:
                    spec[key] = low
                elif low or high:
                    spec[key] = {k: v for k, v in (("min", low), ("max", high)) if v}
            elif entry.get("multi"):
                if data.get(name):
                    spec[key] = list(data[name])
            else:
                value = data.get(name)
                if isinstance(value, str):
                    value = value.strip()
                if value not in (None, ""):
                    spec[key] = value
        return spec

    def spec_aliases(self) -> dict:
        """Service field names → form field names (a demand's range errors go on its "from" box)."""
        aliases = {}
        for entry in getattr(self, "spec_names", []):
            key, name = entry["attr"].key, entry["name"]
            aliases[key] = f"{name}__min" if entry["range"] else name
        return aliases


class ListingForm(SpecFieldsMixin, forms.Form):
    cluster = forms.ChoiceField(label=_("Cluster"))
    category = forms.ChoiceField(label=_("Category"))
    title = _text(_("Title"), required=True, max_length=250)
    description = forms.CharField(
        label=pgettext_lazy("goods", "Description"),
        required=False,
        max_length=6000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    unit = forms.ChoiceField(label=_("Unit of trade"), required=False)
    moq = _number(_("Minimum order quantity"), required=True)
    available_quantity = _number(_("Available quantity"), required=True)
    lead_time_days = _number(_("Lead time (days)"), required=False, inputmode="numeric")
    origin = forms.CharField(
        label=_("County of origin"),
        max_length=64,
        required=False,
        help_text=_("Leave empty for the supplier's own county."),
        widget=forms.TextInput(attrs=REGION_ATTRS),
    )

    def __init__(
        self,
        *args,
        cluster_choices=(),
        category=None,
        categories=(),
        units=(),
        supplier_choices=(),
        with_cluster=True,
        tier_rows=3,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        if with_cluster:
            self.fields["cluster"].choices = [("", "—"), *cluster_choices]
        else:
            del self.fields["cluster"]
        self.fields["category"].choices = [("", "—"), *categories]
        self.fields["unit"].choices = list(units) or [("", "—")]
        _enterprise_field(self, "supplier", supplier_choices, _("Supplier"))
        for i in range(MAX_TIER_ROWS):
            self.fields[f"tier_{i}_min"] = _number(_("From quantity"))
            self.fields[f"tier_{i}_price"] = _number(_("Unit price (yuan)"))
        self.tier_rows = max(1, min(MAX_TIER_ROWS, tier_rows))
        self.add_spec_fields(category)

    def tier_entries(self):
        return [
            {
                "i": i,
                "min": self[f"tier_{i}_min"],
                "price": self[f"tier_{i}_price"],
                "shown": i < self.tier_rows,
            }
            for i in range(MAX_TIER_ROWS)
        ]

    def tiers_value(self) -> list[dict]:
        rows = []
        for i in range(MAX_TIER_ROWS):
            low = (self.cleaned_data.get(f"tier_{i}_min") or "").strip()
            price = (self.cleaned_data.get(f"tier_{i}_price") or "").strip()
            if low or price:
                rows.append({"min_quantity": low, "unit_price": price})
        return rows

    def service_data(self) -> dict:
        d = self.cleaned_data
        data = {
            "category": d["category"],
            "spec": self.spec_value(),
            "title": d["title"],
            "description": d.get("description", ""),
            "tiers": self.tiers_value(),
            "moq": d["moq"],
            "available_quantity": d["available_quantity"],
            "lead_time_days": (d.get("lead_time_days") or "").strip() or 0,
        }
        if d.get("unit"):
            data["unit"] = d["unit"]
        if (d.get("origin") or "").strip():
            data["origin"] = region_code(d["origin"])
        return data

    def aliases(self) -> dict:
        aliases = {**self.spec_aliases(), "spec": "category", "tiers": "tier_0_min"}
        for i in range(MAX_TIER_ROWS):
            aliases[f"tiers[{i}].min_quantity"] = f"tier_{i}_min"
            aliases[f"tiers[{i}].unit_price"] = f"tier_{i}_price"
            aliases[f"tiers[{i}]"] = f"tier_{i}_min"
        return aliases


class DemandForm(SpecFieldsMixin, forms.Form):
    spec_mode = "constraint"

    cluster = forms.ChoiceField(label=_("Cluster"))
    category = forms.ChoiceField(label=_("Category"))
    title = _text(_("Title"), max_length=250, placeholder=_("Default: the category's name"))
    description = forms.CharField(
        label=pgettext_lazy("goods", "Description"),
        required=False,
        max_length=6000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    quantity = _number(_("Quantity"), required=True)
    unit = forms.ChoiceField(label=_("Unit"), required=False)
    target_unit_price = _number(_("Target unit price (yuan, optional)"))
    delivery_region = forms.CharField(
        label=_("Delivery county"), max_length=64, widget=forms.TextInput(attrs=REGION_ATTRS)
    )
    needed_by = _date(_("Needed by"), required=True)
    quote_deadline = forms.CharField(
        label=_("Quote deadline"),
        max_length=40,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    visibility = forms.ChoiceField(
        label=_("Who may quote"), choices=DemandVisibility.choices, initial=DemandVisibility.OPEN
    )
    invited = forms.MultipleChoiceField(
        label=_("Invited suppliers"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Only for an invited-only demand: the verified member companies that may quote."),
    )

    def __init__(
        self,
        *args,
        cluster_choices=(),
        category=None,
        categories=(),
        units=(),
        buyer_choices=(),
        invitee_choices=(),
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.fields["cluster"].choices = [("", "—"), *cluster_choices]
        self.fields["category"].choices = [("", "—"), *categories]
        self.fields["unit"].choices = list(units) or [("", "—")]
        self.fields["invited"].choices = list(invitee_choices)
        _enterprise_field(self, "buyer", buyer_choices, _("Buyer"))
        self.add_spec_fields(category)

    def service_data(self) -> dict:
        d = self.cleaned_data
        data = {
            "cluster": d["cluster"],
            "category": d["category"],
            "spec": self.spec_value(),
            "title": d.get("title", ""),
            "description": d.get("description", ""),
            "quantity": d["quantity"],
            "target_unit_price": (d.get("target_unit_price") or "").strip() or None,
            "delivery_region": region_code(d["delivery_region"]),
            "needed_by": d["needed_by"],
            "quote_deadline": d["quote_deadline"],
            "visibility": d["visibility"],
            "invited": [int(i) for i in d.get("invited") or []] or None,
        }
        if d.get("unit"):
            data["unit"] = d["unit"]
        if d.get("buyer"):
            data["buyer"] = d["buyer"]
        return data

    def aliases(self) -> dict:
        return {**self.spec_aliases(), "spec": "category"}


class TermsForm(forms.Form):
    """A quote's terms: a first quote (all required), or a counter/revision (the terms that change)."""

    unit_price = _number(_("Unit price (yuan)"))
    quantity = _number(_("Quantity"))
    delivery_date = _date(_("Delivery date"))
    valid_until = _date(_("Valid until"))
    payment_terms = forms.ChoiceField(label=_("Payment terms"), choices=PaymentTerms.choices, required=False)
    note = forms.CharField(
        label=_("Note"), required=False, max_length=2100, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, supplier_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        _enterprise_field(self, "supplier", supplier_choices, _("Supplier"))

    def terms(self) -> dict:
        d = self.cleaned_data
        keys = ("unit_price", "quantity", "delivery_date", "valid_until", "payment_terms", "note")
        return {k: (d.get(k) or "").strip() for k in keys}


class AwardForm(forms.Form):
    quantity = _number(_("Quantity to award"))


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=600,
        widget=forms.TextInput(attrs={"placeholder": _("Reason (optional)")}),
    )


class MessageForm(forms.Form):
    body = forms.CharField(
        label=_("Message"),
        required=False,
        max_length=2100,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": _("Write to the other party…")}),
    )


class BuyForm(forms.Form):
    quantity = _number(_("Quantity"), required=True)
    delivery_region = forms.CharField(
        label=_("Delivery county"), max_length=64, widget=forms.TextInput(attrs=REGION_ATTRS)
    )
    payment_terms = forms.ChoiceField(
        label=_("Payment terms"), choices=PaymentTerms.choices, initial=PaymentTerms.ESCROW
    )
    delivery_date = _date(_("Delivery date (optional)"))

    def __init__(self, *args, buyer_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        _enterprise_field(self, "buyer", buyer_choices, _("Buying for"))


class ListingFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Search"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Title or description")}),
    )
    cluster = forms.ChoiceField(label=_("Cluster"), required=False)
    category = forms.ChoiceField(label=_("Category"), required=False)

    def __init__(self, *args, cluster_choices=(), category_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cluster"].choices = [("", _("All clusters")), *cluster_choices]
        self.fields["category"].choices = [("", _("All categories")), *category_choices]


class DemandFilterForm(forms.Form):
    cluster = forms.ChoiceField(label=_("Cluster"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False)
    mine = forms.ChoiceField(
        label=_("Whose"),
        required=False,
        choices=(("", _("All I may see")), ("1", _("Posted by my enterprise"))),
    )

    def __init__(self, *args, cluster_choices=(), status_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cluster"].choices = [("", _("All clusters")), *cluster_choices]
        self.fields["status"].choices = [("", _("Any status")), *status_choices]
