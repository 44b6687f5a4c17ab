"""Route of the shortlist page under /reports/ (included from reports.urls)."""

from django.urls import path

from reports.shortlist import views

urlpatterns = [path("shortlist/", views.shortlist, name="report-shortlist")]
