"""Statistics routes under /api/v1/ (included from config/api_urls.py before the routers, so
trials/compare/ is not taken for a trial id)."""

from django.urls import path

from reports import stats_api

urlpatterns = [
    path("trials/compare/", stats_api.TrialCompareView.as_view(), name="api-trials-compare"),
    path("trials/<str:id>/stats/", stats_api.TrialStatsView.as_view(), name="api-trial-stats"),
    path("trials/<str:id>/acceptance/", stats_api.TrialAcceptanceView.as_view(), name="api-trial-acceptance"),
    path("tasks/<str:id>/stats/", stats_api.TaskStatsView.as_view(), name="api-task-stats"),
    path("tasks/<str:id>/plan/", stats_api.TaskPlanView.as_view(), name="api-task-plan"),
]
