"""Routes of the ROI pages under /reports/ (included from reports.urls)."""

from django.urls import path

from reports.roi import views

urlpatterns = [
    path("", views.report_index, name="report-index"),
    path("tasks/<int:pk>/roi/", views.task_roi, name="report-roi"),
    path("tasks/<int:pk>/roi/print/", views.task_roi_print, name="report-roi-print"),
    path("tasks/<int:pk>/roi.pdf", views.task_roi_pdf, name="report-roi-pdf"),
    path("tasks/<int:pk>/costs/", views.cost_model_edit, name="report-costs"),
]
