from django.contrib import admin

from .models import Region


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    """Read-only: regions come from the shipped data (``chanlian load_regions``), not from hand edits."""

    list_display = ("code", "name", "full_name", "level", "parent", "lon", "lat", "centroid_inherited")
    list_filter = ("level", "centroid_inherited")
    search_fields = ("code", "name", "full_name")  # also lets other admins use autocomplete_fields
    list_select_related = ("parent",)
    list_per_page = 100

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
