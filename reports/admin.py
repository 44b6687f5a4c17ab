from django.contrib import admin

from reports.models import AcceptanceCriteria, CostModel


@admin.register(CostModel)
class CostModelAdmin(admin.ModelAdmin):
    list_display = (
        "task",
        "scenario",
        "robot_capex",
        "integration_cost",
        "annual_maintenance",
        "discount_rate",
        "horizon_years",
    )
    list_filter = ("scenario", "task__organization")
    search_fields = ("task__name",)
    list_select_related = ("task",)


@admin.register(AcceptanceCriteria)
class AcceptanceCriteriaAdmin(admin.ModelAdmin):
    list_display = (
        "task",
        "name",
        "min_success_lower_bound",
        "confidence",
        "consecutive_without_intervention",
        "mtbi_lower_bound_h",
        "cycle_time_p90_within_takt",
        "applies_to_source",
    )
    list_filter = ("name", "task__organization")
    search_fields = ("task__name",)
    list_select_related = ("task",)
