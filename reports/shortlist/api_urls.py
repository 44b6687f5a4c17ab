"""Shortlist route under /api/v1/ (included from reports.api_urls)."""

from django.urls import path

from reports.shortlist import api

urlpatterns = [path("shortlist/", api.ShortlistView.as_view(), name="api-shortlist")]
