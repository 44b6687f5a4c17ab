"""Routes under /api/v1/. Swagger UI (offline, sidecar assets) at /api/v1/docs/, schema at /api/v1/schema/."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter, SimpleRouter

from accounts.api import ApiTokenViewSet, MeView
from policies.api import PolicyVersionViewSet, PolicyViewSet
from robots.api import RobotViewSet, SiteViewSet
from trials import lerobot_api, media_api
from trials.api import EpisodeViewSet, EventViewSet, TaskViewSet, TrialEpisodesViewSet, TrialViewSet
from trials.blind.api import BlindComparisonViewSet
from trials.sweep_api import SweepViewSet

router = DefaultRouter()
router.register("tasks", TaskViewSet, basename="api-task")
router.register("sites", SiteViewSet, basename="api-site")
router.register("robots", RobotViewSet, basename="api-robot")
router.register("policies", PolicyViewSet, basename="api-policy")
router.register("policy-versions", PolicyVersionViewSet, basename="api-policy-version")
router.register("trials", TrialViewSet, basename="api-trial")
router.register("sweeps", SweepViewSet, basename="api-sweep")
router.register("blind-comparisons", BlindComparisonViewSet, basename="api-blind-comparison")
router.register("episodes", EpisodeViewSet, basename="api-episode")
router.register("events", EventViewSet, basename="api-event")
router.register("tokens", ApiTokenViewSet, basename="api-token")

trial_router = SimpleRouter()
trial_router.register(r"trials/(?P<trial_pk>[^/.]+)/episodes", TrialEpisodesViewSet, basename="api-trial-episodes")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("me/", MeView.as_view(), name="api-me"),
    path("agent/", include("trials.agents.urls")),
    path("", include("reports.api_urls")),
    path("", include("trials.reviews.api_urls")),
    # An episode's recording files (trials/media_api.py): raw bytes in a PUT.
    path(
        "trials/<int:trial_pk>/episodes/<int:index>/media/",
        media_api.TrialEpisodeMediaListView.as_view(),
        name="api-episode-media",
    ),
    path(
        "trials/<int:trial_pk>/episodes/<int:index>/media/video/<str:name>/",
        media_api.TrialEpisodeVideoView.as_view(),
        name="api-episode-media-video",
    ),
    path(
        "trials/<int:trial_pk>/episodes/<int:index>/media/<str:kind>/",
        media_api.TrialEpisodeFileView.as_view(),
        name="api-episode-media-file",
    ),
    # LeRobotDataset v3.0 export (a job) and import (trials/lerobot_api.py).
    path(
        "trials/<int:trial_pk>/lerobot-exports/",
        lerobot_api.LeRobotExportListView.as_view(),
        name="api-lerobot-exports",
    ),
    path(
        "trials/<int:trial_pk>/lerobot-exports/<int:export_id>/",
        lerobot_api.LeRobotExportDetailView.as_view(),
        name="api-lerobot-export",
    ),
    path(
        "trials/<int:trial_pk>/lerobot-exports/<int:export_id>/download/",
        lerobot_api.LeRobotExportDownloadView.as_view(),
        name="api-lerobot-export-download",
    ),
    path(
        "sweeps/<int:sweep_pk>/lerobot-exports/",
        lerobot_api.SweepLeRobotExportListView.as_view(),
        name="api-sweep-lerobot-exports",
    ),
    path(
        "sweeps/<int:sweep_pk>/lerobot-exports/<int:export_id>/",
        lerobot_api.SweepLeRobotExportDetailView.as_view(),
        name="api-sweep-lerobot-export",
    ),
    path(
        "sweeps/<int:sweep_pk>/lerobot-exports/<int:export_id>/download/",
        lerobot_api.SweepLeRobotExportDownloadView.as_view(),
        name="api-sweep-lerobot-export-download",
    ),
    path(
        "trials/<int:trial_pk>/lerobot-imports/",
        lerobot_api.LeRobotImportView.as_view(),
        name="api-lerobot-imports",
    ),
    path("", include(trial_router.urls)),
    path("", include(router.urls)),
]
