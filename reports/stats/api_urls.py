"""Statistics routes under /api/v1/ (included from reports.api_urls)."""

from django.urls import path

from reports.stats import api

urlpatterns = [
    path("trials/compare/", api.TrialCompareView.as_view(), name="api-trials-compare"),
    path("trials/<str:id>/stats/", api.TrialStatsView.as_view(), name="api-trial-stats"),
    path("trials/<str:id>/acceptance/", api.TrialAcceptanceView.as_view(), name="api-trial-acceptance"),
    path("tasks/<str:id>/stats/", api.TaskStatsView.as_view(), name="api-task-stats"),
    path("tasks/<str:id>/plan/", api.TaskPlanView.as_view(), name="api-task-plan"),
    path("sweeps/<str:id>/acceptance/", api.SweepAcceptanceView.as_view(), name="api-sweep-acceptance"),
    path("plan/paired/", api.PairedPlanView.as_view(), name="api-plan-paired"),
]
