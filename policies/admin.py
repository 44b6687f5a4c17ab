from django.contrib import admin

from policies.models import Policy, PolicyVersion


class PolicyVersionInline(admin.TabularInline):
    model = PolicyVersion
    fields = ("version", "kind", "sha256", "size_bytes", "endpoint_url", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "created_at")
    list_filter = ("organization",)
    search_fields = ("name", "description")
    list_select_related = ("organization",)
    inlines = (PolicyVersionInline,)


@admin.register(PolicyVersion)
class PolicyVersionAdmin(admin.ModelAdmin):
    list_display = ("__str__", "kind", "short_sha256", "size_bytes", "endpoint_url", "created_at")
    list_filter = ("kind", "policy")
    search_fields = ("policy__name", "version", "sha256", "endpoint_url")
    list_select_related = ("policy",)
    readonly_fields = ("sha256", "size_bytes", "created_at")

    @admin.display(description="sha256")
    def short_sha256(self, obj: PolicyVersion) -> str:
        return obj.sha256[:12]
