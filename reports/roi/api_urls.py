"""ROI routes under /api/v1/ (included from reports.api_urls)."""

from django.urls import path

from reports.roi import api

urlpatterns = [
    path("tasks/<str:id>/roi/", api.TaskRoiView.as_view(), name="api-task-roi"),
]
