"""Routes of the trial exports, under /reports/ (included from reports.urls)."""

from django.urls import path

from reports.exports import views

urlpatterns = [
    path("trials/<int:pk>/episodes.csv", views.trial_episodes_csv, name="report-trial-episodes-csv"),
    path("trials/<int:pk>/events.csv", views.trial_events_csv, name="report-trial-events-csv"),
]
