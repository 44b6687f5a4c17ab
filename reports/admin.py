from django.contrib import admin

from reports.models import CostModel


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
