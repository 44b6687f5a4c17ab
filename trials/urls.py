from django.urls import include, path

from trials import lerobot_views, media_views, sweep_views, upload_views, views

urlpatterns = [
    path("tasks/", views.task_list, name="task-list"),
    path("tasks/new/", views.task_create, name="task-create"),
    path("tasks/<int:pk>/", views.task_detail, name="task-detail"),
    path("tasks/<int:pk>/edit/", views.task_edit, name="task-edit"),
    path("tasks/<int:task_pk>/trials/new/", views.trial_create, name="trial-create"),
    path("tasks/<int:task_pk>/sweeps/new/", sweep_views.sweep_create, name="sweep-create"),
    path("sweeps/<int:pk>/", sweep_views.sweep_detail, name="sweep-detail"),
    path(
        "sweeps/<int:pk>/lerobot-exports/",
        lerobot_views.sweep_lerobot_export_create,
        name="sweep-lerobot-export-create",
    ),
    path(
        "sweeps/<int:pk>/lerobot-exports/fragment/",
        lerobot_views.sweep_lerobot_exports_fragment,
        name="sweep-lerobot-exports",
    ),
    path(
        "sweeps/<int:pk>/lerobot-exports/<int:export_id>/download/",
        lerobot_views.sweep_lerobot_export_download,
        name="sweep-lerobot-export-download",
    ),
    path("trials/", views.trial_list, name="trial-list"),
    path("trials/<int:pk>/", views.trial_detail, name="trial-detail"),
    path("trials/<int:pk>/progress/", views.trial_progress_fragment, name="trial-progress"),
    path("trials/<int:pk>/episodes/", views.trial_episodes_fragment, name="trial-episodes"),
    path("trials/<int:pk>/cancel/", views.trial_cancel_view, name="trial-cancel"),
    path("trials/<int:pk>/episodes/<int:index>/", views.episode_detail, name="episode-detail"),
    path("trials/<int:pk>/episodes/<int:index>/trajectory.json", views.episode_trajectory, name="episode-trajectory"),
    path(
        "trials/<int:pk>/episodes/<int:index>/media/<int:media_id>/",
        media_views.episode_media,
        name="episode-media",
    ),
    path("", include("trials.reviews.urls")),
    path("", include("trials.blind.urls")),
    path("trials/<int:pk>/lerobot-exports/", lerobot_views.lerobot_export_create, name="lerobot-export-create"),
    path("trials/<int:pk>/lerobot-exports/fragment/", lerobot_views.lerobot_exports_fragment, name="lerobot-exports"),
    path(
        "trials/<int:pk>/lerobot-exports/<int:export_id>/download/",
        lerobot_views.lerobot_export_download,
        name="lerobot-export-download",
    ),
    path("account/uploads/lerobot/", lerobot_views.lerobot_import_upload, name="lerobot-import-upload"),
    # Under /account/ beside the API token page, where integrators look for it.
    path("account/uploads/csv/", upload_views.episode_csv_upload, name="episode-csv-upload"),
]
