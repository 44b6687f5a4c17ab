"""Routes of the reports API under /api/v1/ (included from config/api_urls.py before the routers, so
trials/compare/ is not taken for a trial id): one include per subject."""

from django.urls import include, path

urlpatterns = [
    path("", include("reports.roi.api_urls")),
    path("", include("reports.stats.api_urls")),
    path("", include("reports.shortlist.api_urls")),
]
