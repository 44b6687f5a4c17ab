"""Routes under /reports/ (the dashboard itself, /reports/, is named report-index in config/urls.py)."""

from django.urls import path

from reports import views

urlpatterns = [
    path("tasks/<int:pk>/roi/", views.task_roi, name="report-roi"),
    path("tasks/<int:pk>/roi/print/", views.task_roi_print, name="report-roi-print"),
    path("tasks/<int:pk>/roi.pdf", views.task_roi_pdf, name="report-roi-pdf"),
    path("tasks/<int:pk>/costs/", views.cost_model_edit, name="report-costs"),
    path("trials/<int:pk>/episodes.csv", views.trial_episodes_csv, name="report-trial-episodes-csv"),
    path("trials/<int:pk>/events.csv", views.trial_events_csv, name="report-trial-events-csv"),
]
