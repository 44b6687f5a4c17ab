from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from robots.models import AgentJob, Robot, Site
from robots.services import robot_agent_token_issue, robot_agent_token_revoke


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin[Site]):
    list_display = ("name", "organization", "city", "country", "timezone")
    list_filter = ("organization", "country")
    search_fields = ("name", "city", "organization__name")
    list_select_related = ("organization",)


@admin.register(Robot)
class RobotAdmin(admin.ModelAdmin[Robot]):
    list_display = ("name", "kind", "organization", "site", "model", "sim_cell_key", "status", "last_heartbeat_at")
    list_filter = ("kind", "status", "organization", "site")
    search_fields = ("name", "model", "sim_cell_key", "organization__name")
    list_select_related = ("organization", "site")
    readonly_fields = (
        "agent_token_sha256",
        "agent_token_expires_at",
        "last_heartbeat_at",
        "software_version",
        "current_job",
    )
    actions = ("issue_agent_token", "revoke_agent_token")

    @admin.action(description="Issue a new agent token (shown once)")
    def issue_agent_token(self, request: HttpRequest, queryset: QuerySet[Robot]) -> None:
        for robot in queryset:
            try:
                raw = robot_agent_token_issue(robot=robot)
            except ValueError as exc:
                self.message_user(request, f"{robot}: {exc}", messages.ERROR)
            else:
                self.message_user(
                    request, f"Agent token for {robot} (copy it now, it is not stored): {raw}", messages.WARNING
                )

    @admin.action(description="Revoke the agent token")
    def revoke_agent_token(self, request: HttpRequest, queryset: QuerySet[Robot]) -> None:
        for robot in queryset:
            robot_agent_token_revoke(robot=robot)
        self.message_user(request, f"Revoked {queryset.count()} agent token(s).")


@admin.register(AgentJob)
class AgentJobAdmin(admin.ModelAdmin[AgentJob]):
    list_display = ("id", "robot", "trial", "index", "status", "attempts", "lease_expires_at", "finished_at")
    list_filter = ("status", "robot")
    search_fields = ("robot__name", "trial__task__name")
    list_select_related = ("robot", "trial")
    raw_id_fields = ("trial", "episode")
