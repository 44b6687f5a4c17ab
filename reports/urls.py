"""Routes of the reports pages, under /reports/ (included from config/urls.py): one include per subject."""

from django.urls import include, path

urlpatterns = [
    path("", include("reports.roi.urls")),
    path("", include("reports.stats.urls")),
    path("", include("reports.exports.urls")),
    path("", include("reports.shortlist.urls")),
]
