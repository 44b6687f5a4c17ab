from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from trials.models import DatasetExport, Episode, EpisodeEvent, Sweep, Task, Trial


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "organization",
        "site",
        "station",
        "part",
        "manual_cycle_time_s",
        "takt_time_s",
        "annual_volume",
        "labour_cost_per_hour",
        "fit_score",
        "status",
    )
    list_filter = ("status", "organization", "integrator", "site")
    search_fields = ("name", "station", "part", "instruction")
    list_select_related = ("organization", "site")


@admin.register(Trial)
class TrialAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "task",
        "policy_version",
        "robot",
        "episodes_planned",
        "episodes_done",
        "status",
        "created_at",
    )
    list_filter = ("status", "robot__kind", "robot", "task__organization")
    search_fields = ("task__name", "policy_version__policy__name", "robot__name", "instruction")
    list_select_related = ("task", "policy_version__policy", "robot")
    raw_id_fields = ("task", "policy_version", "robot", "scheduled_by")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Trial]:
        return super().get_queryset(request).annotate(episodes_done=Count("episodes"))

    @admin.display(description="Done", ordering="episodes_done")
    def episodes_done(self, obj: Trial) -> int:
        return obj.episodes_done  # type: ignore[attr-defined]


class RecordedEvidenceReadOnly:
    """Episodes and their events are recorded evidence: they change only through
    trials.services.episodes_record, which also keeps the per-trial summaries the ROI pages read.
    An edit or delete here would bypass both, so the admin shows them read-only."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class EpisodeEventInline(RecordedEvidenceReadOnly, admin.TabularInline):
    model = EpisodeEvent
    extra = 0


@admin.register(Episode)
class EpisodeAdmin(RecordedEvidenceReadOnly, admin.ModelAdmin):
    list_display = ("__str__", "trial", "index", "outcome", "cycle_time_s", "source", "external_id", "started_at")
    list_filter = ("outcome", "source")
    search_fields = ("external_id", "trial__task__name")
    list_select_related = ("trial",)
    raw_id_fields = ("trial",)
    inlines = (EpisodeEventInline,)
    show_full_result_count = False  # a COUNT(*) over millions of episodes on every page is wasted work


@admin.register(EpisodeEvent)
class EpisodeEventAdmin(RecordedEvidenceReadOnly, admin.ModelAdmin):
    list_display = ("episode", "kind", "category", "severity", "t_offset_s", "message")
    list_filter = ("kind", "category", "severity")
    search_fields = ("message",)
    list_select_related = ("episode",)
    raw_id_fields = ("episode",)
    show_full_result_count = False


@admin.register(Sweep)
class SweepAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "task", "policy_version", "robot", "design", "episodes_per_condition", "created_at")
    list_filter = ("design", "task__organization")
    search_fields = ("name",)
    list_select_related = ("task", "policy_version__policy", "robot")
    readonly_fields = ("factors", "seed", "created_by", "created_at")


@admin.register(DatasetExport)
class DatasetExportAdmin(admin.ModelAdmin[DatasetExport]):
    list_display = ["id", "trial", "sweep", "status", "episodes_done", "episodes_total", "size_bytes", "created_at"]
    list_filter = ["status"]
    readonly_fields = [
        "file",
        "size_bytes",
        "episodes_done",
        "episodes_total",
        "frames",
        "error",
        "finished_at",
        "expired_at",
    ]
