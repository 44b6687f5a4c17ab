"""The review REST API: history and new reviews per episode, bulk, the queue; scoped by organization and role;
a review changes the success rate the statistics API gives."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Role, User
from accounts.services import api_token_create
from reports.models import AcceptanceCriteria
from tests.factories import EpisodeFactory, TrialFactory, UserFactory, episodes_make
from trials.models import EpisodeOutcome, EpisodeReview, Trial

pytestmark = pytest.mark.django_db


def _api(user: User) -> APIClient:
    client = APIClient()
    _, secret = api_token_create(user=user, name="tests")
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    return client


@pytest.fixture
def world() -> dict[str, Any]:
    trial = TrialFactory.create(episodes_planned=10)
    episodes_make(trial, 10, successes=8)
    org = trial.robot.organization
    return {
        "trial": trial,
        "engineer": UserFactory.create(organization=org, role=Role.ENGINEER),
        "reviewer": UserFactory.create(organization=org, role=Role.REVIEWER),
        "manager": UserFactory.create(organization=org, role=Role.MANAGER),
        "outsider": UserFactory.create(role=Role.ENGINEER),
    }


def _reviews_url(trial: Trial, index: int | str) -> str:
    return reverse("api-episode-reviews", kwargs={"trial_pk": trial.pk, "index": index})


def test_override_changes_the_success_rate_of_the_stats_api_and_the_history_holds_it(world: dict[str, Any]) -> None:
    trial, reviewer = world["trial"], world["reviewer"]
    client = _api(reviewer)
    stats_url = reverse("api-trial-stats", args=[trial.pk])
    before = client.get(stats_url).json()["statistics"]["sources"][0]
    assert (before["success"]["successes"], before["n_reviewed"]) == (8, 0)
    created = client.post(
        _reviews_url(trial, 2), {"outcome": "failure", "reason": "dropped on the tray edge"}, format="json"
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["reviewer"], body["outcome_before"], body["outcome_after"], body["episode_index"]) == (
        reviewer.username,
        "success",
        "failure",
        2,
    )
    after = client.get(stats_url).json()["statistics"]["sources"][0]
    assert (after["success"]["successes"], after["success"]["n"], after["n_reviewed"]) == (7, 10, 1)
    history = client.get(_reviews_url(trial, 2))
    assert history.status_code == 200
    assert [(r["outcome_before"], r["outcome_after"], r["reason"]) for r in history.json()] == [
        ("success", "failure", "dropped on the tray edge")
    ]


def test_bad_input_is_a_400_naming_the_field(world: dict[str, Any]) -> None:
    client, trial = _api(world["engineer"]), world["trial"]
    assert client.post(_reviews_url(trial, 1), {"outcome": "lost"}, format="json").json()["errors"].keys() == {
        "outcome"
    }
    assert client.post(_reviews_url(trial, 1), {"outcome": "failure", "reason": 7}, format="json").json()[
        "errors"
    ].keys() == {"reason"}
    no_reason = client.post(_reviews_url(trial, 1), {"outcome": "failure"}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["errors"]
    assert client.post(_reviews_url(trial, 99), {"outcome": "success"}, format="json").status_code == 404
    assert client.post(_reviews_url(trial, "x"), {"outcome": "success"}, format="json").status_code == 404
    lost_trial = TrialFactory.create(robot=trial.robot, task=trial.task, episodes_planned=2)
    EpisodeFactory.create(trial=lost_trial, index=0, outcome=EpisodeOutcome.LOST)
    lost = client.post(_reviews_url(lost_trial, 0), {"outcome": "failure", "reason": "x"}, format="json")
    assert lost.status_code == 400 and lost.json()["errors"].keys() == {"episode"}
    assert not EpisodeReview.objects.exists()


def test_manager_is_refused_403_and_another_organization_404(world: dict[str, Any]) -> None:
    trial = world["trial"]
    manager = _api(world["manager"])
    assert manager.get(_reviews_url(trial, 1)).status_code == 200  # reading the trail is open to who sees the trial
    assert manager.post(_reviews_url(trial, 1), {"outcome": "success"}, format="json").status_code == 403
    bulk = reverse("api-trial-reviews-bulk", kwargs={"trial_pk": trial.pk})
    assert manager.post(bulk, {"indexes": [1], "outcome": "success"}, format="json").status_code == 403
    outsider = _api(world["outsider"])
    assert outsider.get(_reviews_url(trial, 1)).status_code == 404
    assert outsider.post(_reviews_url(trial, 1), {"outcome": "success"}, format="json").status_code == 404
    assert outsider.post(bulk, {"indexes": [1], "outcome": "success"}, format="json").status_code == 404
    queue = reverse("api-trial-review-queue", kwargs={"trial_pk": trial.pk})
    assert outsider.get(queue).status_code == 404
    assert APIClient().get(_reviews_url(trial, 1)).status_code == 401
    assert not EpisodeReview.objects.exists()


def test_bulk_is_all_or_nothing(world: dict[str, Any]) -> None:
    client, trial = _api(world["engineer"]), world["trial"]
    bulk = reverse("api-trial-reviews-bulk", kwargs={"trial_pk": trial.pk})
    refused = client.post(
        bulk, {"indexes": [0, 1, 50], "outcome": "failure", "reason": "gripper slipped"}, format="json"
    )
    assert refused.status_code == 400 and refused.json()["errors"].keys() == {"indexes"}
    assert not EpisodeReview.objects.exists()
    assert client.post(bulk, {"indexes": [], "outcome": "failure"}, format="json").json()["errors"].keys() == {
        "indexes"
    }
    done = client.post(bulk, {"indexes": [0, 1], "outcome": "failure", "reason": "gripper slipped"}, format="json")
    assert done.status_code == 201 and [r["episode_index"] for r in done.json()] == [0, 1]
    stats = client.get(reverse("api-trial-stats", args=[trial.pk])).json()["statistics"]["sources"][0]
    assert (stats["success"]["successes"], stats["n_reviewed"]) == (6, 2)


def test_queue_lists_the_reasons(world: dict[str, Any]) -> None:
    client, trial = _api(world["reviewer"]), world["trial"]
    body = client.get(reverse("api-trial-review-queue", kwargs={"trial_pk": trial.pk})).json()
    # episodes_make: 8 successes without faults, well inside the 60 s timeout; 2 failures without a fault.
    assert [(e["index"], e["reasons"]) for e in body["episodes"]] == [
        (8, ["failure with no fault event"]),
        (9, ["failure with no fault event"]),
    ]


def test_acceptance_says_how_many_of_its_episodes_were_reviewed(world: dict[str, Any]) -> None:
    trial = world["trial"]
    AcceptanceCriteria.objects.create(task=trial.task, name="fat", min_success_lower_bound=0.5)
    client = _api(world["engineer"])
    client.post(_reviews_url(trial, 9), {"outcome": "success", "reason": "placed"}, format="json")
    body = client.get(reverse("api-trial-acceptance", args=[trial.pk])).json()
    (source,) = body["criteria"][0]["sources"]
    assert (source["source"], source["n_reviewed"], source["n_episodes"]) == ("simulation", 1, 10)


def test_a_reviewer_reads_the_trial_and_its_episodes(world: dict[str, Any]) -> None:
    trial, client = world["trial"], _api(world["reviewer"])
    assert client.get(reverse("api-trial-detail", args=[trial.pk])).status_code == 200
    episodes = client.get(reverse("api-trial-episodes-list", kwargs={"trial_pk": trial.pk}))
    assert episodes.status_code == 200 and len(episodes.json()["results"]) == 10


@pytest.mark.parametrize("bad", ["²", "١٢", "1²", "9" * 30])
def test_a_path_number_not_in_ascii_digits_or_range_is_a_404(world: dict[str, Any], bad: str) -> None:
    # str.isdigit() holds for superscripts, which int() refuses (it was a 500); other scripts' digits int()
    # reads, but no id is written that way.
    client, trial = _api(world["engineer"]), world["trial"]
    assert client.get(f"/api/v1/trials/{bad}/review-queue/").status_code == 404
    assert client.get(f"/api/v1/trials/{trial.pk}/episodes/{bad}/reviews/").status_code == 404
