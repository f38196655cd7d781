"""Read-only admin of the books: the journal is append-only, so nothing here adds, changes or deletes."""

from django.contrib import admin

from .models import Account, JournalEntry, JournalLine


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(ReadOnly):
    list_display = ("id", "cluster", "enterprise", "code", "currency", "name")
    list_filter = ("code",)
    search_fields = ("name",)


class LineInline(admin.TabularInline):
    model = JournalLine
    extra = 0
    can_delete = False
    readonly_fields = ("account", "amount")
    fields = ("account", "amount")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnly):
    list_display = ("id", "cluster", "kind", "reference", "posted_at", "posted_by", "reverses")
    list_filter = ("kind",)
    search_fields = ("reference", "memo")
    inlines = [LineInline]
