from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import ApiToken, Organization, User
from accounts.services import api_token_revoke


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin[Organization]):
    list_display = ("name", "kind", "currency", "slug", "created_at")
    list_filter = ("kind",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(User)
class UserAdmin(DjangoUserAdmin[User]):
    list_display = ("username", "email", "organization", "role_names", "is_staff", "is_active")
    list_filter = ("organization", "groups", "is_staff", "is_active")
    search_fields = ("username", "email", "first_name", "last_name", "organization__name")
    # Django's UserAdmin sets both; the stubs allow None for fieldsets.
    fieldsets = (*(DjangoUserAdmin.fieldsets or ()), ("Organization", {"fields": ("organization",)}))
    add_fieldsets = (*DjangoUserAdmin.add_fieldsets, ("Organization", {"fields": ("organization", "groups")}))

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).select_related("organization").prefetch_related("groups")

    @admin.display(description="Roles")
    def role_names(self, obj: User) -> str:
        return ", ".join(sorted(g.name for g in obj.groups.all()))


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    list_display = ("name", "user", "prefix", "created_at", "expires_at", "revoked_at", "last_used_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "user__username")
    list_select_related = ("user",)
    # The secret is never stored; tokens are issued from the UI/API, where the secret is shown once.
    readonly_fields = ("user", "prefix", "key_sha256", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        for token in queryset:
            api_token_revoke(token=token)
