"""The admin shows recorded episodes and events read-only: edits there would bypass episodes_record
and the per-trial summaries the ROI pages read."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import EpisodeEventFactory, EpisodeFactory, UserFactory, client_for
from trials.models import Episode, EpisodeEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_logged_in() -> Client:
    return client_for(UserFactory(is_staff=True, is_superuser=True))


def test_episode_admin_lists_and_shows_but_cannot_edit_or_delete(admin_client_logged_in: Client) -> None:
    episode = EpisodeFactory(cycle_time_s=5.0)
    client = admin_client_logged_in
    assert client.get(reverse("admin:trials_episode_changelist")).status_code == 200
    page = client.get(reverse("admin:trials_episode_change", args=[episode.pk]))
    assert page.status_code == 200 and b'name="cycle_time_s"' not in page.content  # shown, not as a field
    response = client.post(reverse("admin:trials_episode_change", args=[episode.pk]), {"cycle_time_s": "1.0"})
    assert response.status_code == 403
    assert client.post(reverse("admin:trials_episode_delete", args=[episode.pk]), {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:trials_episode_add")).status_code == 403
    assert Episode.objects.get(pk=episode.pk).cycle_time_s == 5.0


def test_event_admin_cannot_delete(admin_client_logged_in: Client) -> None:
    event = EpisodeEventFactory()
    url = reverse("admin:trials_episodeevent_delete", args=[event.pk])
    assert admin_client_logged_in.post(url, {"post": "yes"}).status_code == 403
    assert EpisodeEvent.objects.filter(pk=event.pk).exists()
