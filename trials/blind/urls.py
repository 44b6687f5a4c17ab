"""Routes of the blind-comparison pages (included from trials/urls.py)."""

from django.urls import path

from trials.blind import views

urlpatterns = [
    path("tasks/<int:task_pk>/blind/new/", views.blind_comparison_create, name="blind-create"),
    path("blind/<int:pk>/", views.blind_comparison_detail, name="blind-detail"),
    path("blind/<int:pk>/cancel/", views.blind_comparison_cancel_view, name="blind-cancel"),
]
