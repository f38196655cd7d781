"""Read-only admin: every write of the finance app goes through its services (rules, locks, audit)."""

from django.contrib import admin

from .models import FinancedAsset, Receivable, Voucher, VoucherEvent, VoucherTransfer


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Receivable)
class ReceivableAdmin(ReadOnly):
    list_display = ("id", "order", "creditor", "debtor", "amount", "due_date", "status")
    list_filter = ("status",)


class EventInline(admin.TabularInline):
    model = VoucherEvent
    extra = 0
    can_delete = False
    readonly_fields = ("kind", "actor", "from_enterprise", "to_enterprise", "amount", "data", "created_at")


@admin.register(Voucher)
class VoucherAdmin(ReadOnly):
    list_display = ("number", "issuer", "holder", "amount", "maturity_date", "status", "parent")
    list_filter = ("status",)
    search_fields = ("number",)
    inlines = [EventInline]


@admin.register(VoucherTransfer)
class VoucherTransferAdmin(ReadOnly):
    list_display = ("id", "voucher", "from_enterprise", "to_enterprise", "status", "offered_at")
    list_filter = ("status",)


@admin.register(FinancedAsset)
class FinancedAssetAdmin(ReadOnly):
    list_display = ("fingerprint", "kind", "claimed_by", "created_at")
    search_fields = ("fingerprint",)
