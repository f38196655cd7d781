"""Read-only admin: trading rows change through the services (permission, locks, audit), never by hand."""

from django.contrib import admin

from .models import AwardedTerms, Demand, Listing, PriceTier, Quote, QuoteRevision, RfqMessage


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class PriceTierInline(ReadOnlyInline):
    model = PriceTier


class QuoteRevisionInline(ReadOnlyInline):
    model = QuoteRevision


@admin.register(Listing)
class ListingAdmin(ReadOnly):
    list_display = ("id", "title", "cluster", "supplier", "category", "status", "moq", "unit", "created_at")
    list_filter = ("status", "cluster")
    search_fields = ("title", "supplier__name")
    list_select_related = ("cluster", "supplier")
    inlines = [PriceTierInline]


@admin.register(Demand)
class DemandAdmin(ReadOnly):
    list_display = (
        "id",
        "title",
        "cluster",
        "buyer",
        "category",
        "quantity",
        "unit",
        "status",
        "quote_deadline",
    )
    list_filter = ("status", "visibility", "cluster")
    search_fields = ("title", "buyer__name")
    list_select_related = ("cluster", "buyer")


@admin.register(Quote)
class QuoteAdmin(ReadOnly):
    list_display = ("id", "demand", "supplier", "buyer", "status", "revision_count", "updated_at")
    list_filter = ("status",)
    list_select_related = ("demand", "supplier", "buyer")
    inlines = [QuoteRevisionInline]


@admin.register(AwardedTerms)
class AwardedTermsAdmin(ReadOnly):
    list_display = (
        "id",
        "quote",
        "demand",
        "supplier",
        "quantity",
        "unit",
        "unit_price",
        "total",
        "awarded_at",
    )
    list_select_related = ("quote", "demand", "supplier")


@admin.register(RfqMessage)
class RfqMessageAdmin(ReadOnly):
    list_display = ("id", "quote", "side", "author", "created_at")
    list_select_related = ("quote", "author")
