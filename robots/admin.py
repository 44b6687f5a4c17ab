from django.contrib import admin

from robots.models import Robot, Site


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "city", "country", "timezone")
    list_filter = ("organization", "country")
    search_fields = ("name", "city", "organization__name")
    list_select_related = ("organization",)


@admin.register(Robot)
class RobotAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "organization", "site", "model", "sim_cell_key", "status", "last_heartbeat_at")
    list_filter = ("kind", "status", "organization", "site")
    search_fields = ("name", "model", "sim_cell_key", "organization__name")
    list_select_related = ("organization", "site")
    readonly_fields = ("agent_token_sha256", "last_heartbeat_at", "software_version")
