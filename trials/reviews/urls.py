"""Routes of the review page, under the trial's URL (included from trials/urls.py)."""

from django.urls import path

from trials.reviews import views

urlpatterns = [
    path("trials/<int:pk>/review/", views.trial_review, name="trial-review"),
    path("trials/<int:pk>/review/bulk/", views.episodes_review_bulk_submit, name="trial-review-bulk"),
    path("trials/<int:pk>/episodes/<int:index>/review/", views.episode_review_submit, name="episode-review"),
]
