"""The review page and its plain POST forms (no JavaScript needed), the bulk form, the audit-trail include,
and the success rate the statistics panel shows after a review."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from tests.factories import TrialFactory, UserFactory, client_for, episode_media_make, episodes_make
from trials.models import EpisodeReview, MediaKind, TrialStatus
from trials.reviews.selectors import episode_review_history

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_root(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def world() -> dict[str, Any]:
    trial = TrialFactory.create(episodes_planned=6)
    episodes = episodes_make(trial, 6, successes=4)  # 4 and 5 fail without a fault: in the queue
    org = trial.robot.organization
    return {
        "trial": trial,
        "episodes": episodes,
        "reviewer": UserFactory.create(organization=org, role=Role.REVIEWER),
        "manager": UserFactory.create(organization=org, role=Role.MANAGER),
        "outsider": UserFactory.create(role=Role.ENGINEER),
    }


def _page(world: dict[str, Any]) -> str:
    return reverse("trial-review", args=[world["trial"].pk])


def _success_shown(client: Client, world: dict[str, Any]) -> str:
    html = client.get(reverse("stats-trial-panel", args=[world["trial"].pk])).content.decode()
    match = re.search(r'data-testid="stats-success-simulation">([^<]+)<', html)
    assert match
    reviewed = re.search(r'data-testid="stats-reviewed-simulation"><small>(\d+) reviewed of (\d+)', html)
    assert reviewed
    return f"{match.group(1)} ({reviewed.group(1)}/{reviewed.group(2)} reviewed)"


def test_page_lists_the_queue_with_media_and_forms(world: dict[str, Any]) -> None:
    episode = world["episodes"][4]
    poster = episode_media_make(episode=episode, kind=MediaKind.POSTER)
    video = episode_media_make(episode=episode, kind=MediaKind.VIDEO, name="front", data=b"\x00\x00\x00\x18ftyp")
    response = client_for(world["reviewer"]).get(_page(world))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="review-card-4"' in html and 'data-testid="review-card-5"' in html
    assert 'data-testid="review-card-0"' not in html  # a plain success is not in the queue
    media_url = reverse("episode-media", kwargs={"pk": world["trial"].pk, "index": 4, "media_id": video.pk})
    poster_url = reverse("episode-media", kwargs={"pk": world["trial"].pk, "index": 4, "media_id": poster.pk})
    assert f'src="{media_url}"' in html and f'poster="{poster_url}"' in html
    assert "failure with no fault event" in html and "csrfmiddlewaretoken" in html
    assert "js/review.js" in html and "<script>" not in html and " style=" not in html and "onclick" not in html
    unreviewed = client_for(world["reviewer"]).get(_page(world), {"show": "unreviewed"}).content.decode()
    assert all(f'data-testid="review-card-{i}"' in unreviewed for i in range(6))


def test_a_plain_post_overrides_and_the_panel_shows_the_new_rate(world: dict[str, Any]) -> None:
    client = client_for(world["reviewer"])
    assert _success_shown(client, world) == "66.7% (0/6 reviewed)"
    url = reverse("episode-review", args=[world["trial"].pk, 4])
    response = client.post(
        url, {"outcome": "success", "reason": "placed; detector missed it", "next": _page(world), "following": "5"}
    )
    assert response.status_code == 302 and response["Location"] == _page(world) + "#review-5"
    assert _success_shown(client, world) == "83.3% (1/6 reviewed)"
    review = EpisodeReview.objects.get()
    assert (review.reviewer, review.outcome_before, review.outcome_after) == (world["reviewer"], "failure", "success")
    # An override without a reason changes nothing and says why.
    refused = client.post(reverse("episode-review", args=[world["trial"].pk, 5]), {"outcome": "success"}, follow=True)
    assert "needs a reason" in refused.content.decode() and EpisodeReview.objects.count() == 1
    # `next` may not send the reviewer off-site.
    away = client.post(url, {"outcome": "success", "next": "https://evil.example/"})
    assert away["Location"].startswith(_page(world))


def test_bulk_form_reviews_the_selected_all_or_nothing(world: dict[str, Any]) -> None:
    client, bulk = client_for(world["reviewer"]), reverse("trial-review-bulk", args=[world["trial"].pk])
    refused = client.post(bulk, {"indexes": ["4", "5", "77"], "outcome": "success", "reason": "ok"}, follow=True)
    assert "Nothing was changed" in refused.content.decode() and not EpisodeReview.objects.exists()
    client.post(bulk, {"indexes": ["4", "5"], "outcome": "success", "reason": "both placed"})
    assert EpisodeReview.objects.count() == 2
    assert _success_shown(client, world) == "100.0% (2/6 reviewed)"


def test_manager_gets_403_and_another_organization_404(world: dict[str, Any]) -> None:
    manager, outsider = client_for(world["manager"]), client_for(world["outsider"])
    post = reverse("episode-review", args=[world["trial"].pk, 4])
    bulk = reverse("trial-review-bulk", args=[world["trial"].pk])
    assert manager.get(_page(world)).status_code == 403
    assert manager.post(post, {"outcome": "failure"}).status_code == 403
    assert manager.post(bulk, {"indexes": ["4"], "outcome": "failure"}).status_code == 403
    assert outsider.get(_page(world)).status_code == 404
    assert outsider.post(post, {"outcome": "failure"}).status_code == 404
    assert Client().get(_page(world)).status_code == 302  # to the login page
    assert not EpisodeReview.objects.exists()


def test_the_form_needs_csrf(world: dict[str, Any]) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["reviewer"])
    assert (
        client.post(reverse("episode-review", args=[world["trial"].pk, 4]), {"outcome": "failure"}).status_code == 403
    )


def test_history_include_shows_who_when_before_after_why(world: dict[str, Any]) -> None:
    client = client_for(world["reviewer"])
    client.post(reverse("episode-review", args=[world["trial"].pk, 4]), {"outcome": "success", "reason": "on video"})
    episode = world["episodes"][4]
    episode.refresh_from_db()
    html = render_to_string(
        "trials/_review_history.html", {"episode": episode, "reviews": episode_review_history(episode=episode)}
    )
    assert html.count('data-testid="review-row"') == 1
    assert world["reviewer"].username in html and "on video" in html
    assert "<td>failure</td>" in html and "<td>success</td>" in html and "Overridden" in html
    fallback = render_to_string("trials/_review_history.html", {"episode": episode})
    assert fallback.count('data-testid="review-row"') == 1


def test_page_queries_do_not_grow_with_the_episodes(world: dict[str, Any], django_assert_max_num_queries: Any) -> None:
    client = client_for(world["reviewer"])
    client.get(_page(world))  # warm the session

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(_page(world), {"show": "unreviewed"}).status_code == 200
        return len(captured.captured_queries)

    few = queries()
    episodes_make(world["trial"], 30, successes=10, start=6)
    for episode in world["trial"].episodes.filter(index__gte=6)[:10]:
        episode_media_make(episode=episode, kind=MediaKind.POSTER)
    with django_assert_max_num_queries(few):
        assert client.get(_page(world), {"show": "unreviewed"}).status_code == 200
    with django_assert_max_num_queries(few + 1):  # the queue also reads the task's earlier overrides
        assert client.get(_page(world)).status_code == 200


def test_a_polling_panel_refreshes_after_a_review(world: dict[str, Any]) -> None:
    trial = world["trial"]
    trial.status = TrialStatus.RUNNING
    trial.save(update_fields=["status"])
    client = client_for(world["reviewer"])
    url = reverse("stats-trial-panel", args=[trial.pk])
    html = client.get(url).content.decode()
    assert "?seen=6&amp;status=running&amp;reviewed=0" in html
    poll = {"seen": "6", "status": "running", "reviewed": "0"}
    assert client.get(url, poll).status_code == 204
    client.post(reverse("episode-review", args=[trial.pk, 4]), {"outcome": "success", "reason": "placed"})
    refreshed = client.get(url, poll)
    assert refreshed.status_code == 200 and "reviewed=1" in refreshed.content.decode()
