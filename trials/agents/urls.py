from django.urls import path

from trials.agents import api as agent_api

urlpatterns = [
    path("heartbeat/", agent_api.HeartbeatView.as_view(), name="agent-heartbeat"),
    path("jobs/next/", agent_api.NextJobView.as_view(), name="agent-job-next"),
    path("jobs/<int:job_id>/claim/", agent_api.ClaimView.as_view(), name="agent-job-claim"),
    path("jobs/<int:job_id>/events/", agent_api.EventsView.as_view(), name="agent-job-events"),
    path("jobs/<int:job_id>/complete/", agent_api.CompleteView.as_view(), name="agent-job-complete"),
    path("jobs/<int:job_id>/abort/", agent_api.AbortView.as_view(), name="agent-job-abort"),
    path("jobs/<int:job_id>/media/video/<str:name>/", agent_api.JobVideoView.as_view(), name="agent-job-media-video"),
    path("jobs/<int:job_id>/media/<str:kind>/", agent_api.JobFileView.as_view(), name="agent-job-media-file"),
    path("jobs/<int:job_id>/artifact/", agent_api.JobArtifactView.as_view(), name="agent-job-artifact"),
    path(
        "blind-comparisons/<int:comparison_id>/pairs/<int:pair>/preference/",
        agent_api.PreferenceView.as_view(),
        name="agent-blind-preference",
    ),
    path("policy-versions/<int:version_id>/artifact/", agent_api.ArtifactView.as_view(), name="agent-artifact"),
]
