"""Routes of the statistics pages, under /reports/ (included from config/urls.py)."""

from django.urls import path

from reports.stats import views as stats_views

urlpatterns = [
    path("sweeps/<int:pk>/acceptance/panel/", stats_views.sweep_acceptance_panel, name="stats-sweep-acceptance"),
    path("trials/<int:pk>/stats/panel/", stats_views.trial_stats_panel, name="stats-trial-panel"),
    path("trials/<int:pk>/stats/stop-early/", stats_views.trial_stop_early_view, name="stats-trial-stop-early"),
    path("trials/compare/", stats_views.trial_compare, name="stats-compare"),
    path("tasks/<int:pk>/stats/", stats_views.task_stats, name="stats-task"),
    path("tasks/<int:pk>/stats/panel/", stats_views.task_stats_panel, name="stats-task-panel"),
    path("tasks/<int:pk>/planner/", stats_views.planner_fragment, name="stats-planner"),
    path("planner/paired/", stats_views.paired_planner_fragment, name="stats-paired-planner"),
    path("tasks/<int:task_pk>/acceptance/new/", stats_views.acceptance_edit, name="stats-acceptance-new"),
    path("tasks/<int:task_pk>/acceptance/<int:pk>/", stats_views.acceptance_edit, name="stats-acceptance-edit"),
    path(
        "tasks/<int:task_pk>/acceptance/<int:pk>/delete/",
        stats_views.acceptance_delete,
        name="stats-acceptance-delete",
    ),
]
