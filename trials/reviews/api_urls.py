"""Review routes under /api/v1/ (included from config/api_urls.py, before the routers)."""

from django.urls import path

from trials.reviews import api

urlpatterns = [
    path(
        "trials/<str:trial_pk>/episodes/<str:index>/reviews/",
        api.EpisodeReviewsView.as_view(),
        name="api-episode-reviews",
    ),
    path("trials/<str:trial_pk>/reviews/", api.TrialReviewsBulkView.as_view(), name="api-trial-reviews-bulk"),
    path("trials/<str:trial_pk>/review-queue/", api.TrialReviewQueueView.as_view(), name="api-trial-review-queue"),
]
