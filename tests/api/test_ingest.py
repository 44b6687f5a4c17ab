"""POST /api/v1/trials/{id}/episodes/: bulk, idempotent, all-or-nothing episode upload."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.models import Role
from tests.api.conftest import episode_payload, token_client
from tests.factories import TrialFactory, UserFactory
from trials.models import Episode, EpisodeEvent, Trial, TrialStatus
from trials.services import trial_cancel

pytestmark = pytest.mark.django_db

Batch = Callable[..., list[dict[str, Any]]]


def url(trial: Trial) -> str:
    return f"/api/v1/trials/{trial.pk}/episodes/"


def test_single_episode_with_events_is_recorded_as_an_integrator_upload(client_a: APIClient, trial_a: Trial) -> None:
    response = client_a.post(url(trial_a), episode_payload(0, events=2), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["created"] == 1 and body["existing"] == 0
    episode = Episode.objects.get(pk=body["episodes"][0]["id"])
    assert episode.source == "integrator_upload" and episode.external_id == "ep-00000"
    assert episode.ended_at == episode.started_at + (episode.ended_at - episode.started_at)
    assert (episode.ended_at - episode.started_at).total_seconds() == pytest.approx(episode.cycle_time_s)
    assert [e.t_offset_s for e in episode.events.order_by("t_offset_s")] == [1.0, 2.0]
    trial_a.refresh_from_db()
    assert trial_a.status == TrialStatus.RUNNING


def test_batch_answers_in_request_order_with_assigned_indexes(
    client_a: APIClient, trial_a: Trial, make_batch: Batch
) -> None:
    response = client_a.post(url(trial_a), make_batch(5, events=3), format="json")
    assert response.status_code == 201
    rows = response.json()["episodes"]
    assert [r["external_id"] for r in rows] == [f"ep-{n:05d}" for n in range(5)]
    assert [r["index"] for r in rows] == [0, 1, 2, 3, 4]
    assert {r["status"] for r in rows} == {"created"}
    assert EpisodeEvent.objects.filter(episode__trial=trial_a).count() == 15


def test_resending_the_same_batch_creates_no_duplicate(client_a: APIClient, trial_a: Trial, make_batch: Batch) -> None:
    batch = make_batch(4)
    first = client_a.post(url(trial_a), batch, format="json")
    again = client_a.post(url(trial_a), batch, format="json")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["existing"] == 4 and again.json()["created"] == 0
    assert [r["id"] for r in again.json()["episodes"]] == [r["id"] for r in first.json()["episodes"]]
    assert Episode.objects.filter(trial=trial_a).count() == 4
    assert EpisodeEvent.objects.filter(episode__trial=trial_a).count() == 4


def test_resend_mixing_recorded_and_new_episodes_writes_only_the_new(
    client_a: APIClient, trial_a: Trial, make_batch: Batch
) -> None:
    client_a.post(url(trial_a), make_batch(2), format="json")
    response = client_a.post(url(trial_a), make_batch(3), format="json")
    assert response.status_code == 201
    assert [r["status"] for r in response.json()["episodes"]] == ["existing", "existing", "created"]
    assert Episode.objects.filter(trial=trial_a).count() == 3


def test_same_external_id_with_other_content_is_409_naming_position_and_writes_nothing(
    client_a: APIClient, trial_a: Trial, make_batch: Batch
) -> None:
    client_a.post(url(trial_a), make_batch(2), format="json")
    changed = make_batch(3)
    changed[1]["cycle_time_s"] = 99.0
    response = client_a.post(url(trial_a), changed, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "conflict" and "different content" in body["detail"]
    assert list(body["errors"]) == ["1"]
    assert "cycle_time_s" in body["errors"]["1"]["external_id"][0]
    assert Episode.objects.filter(trial=trial_a).count() == 2  # the new third episode was not written


def test_one_bad_episode_rejects_the_whole_batch_naming_index_and_field(
    client_a: APIClient, trial_a: Trial, make_batch: Batch
) -> None:
    batch = make_batch(5)
    batch[3]["cycle_time_s"] = -2
    response = client_a.post(url(trial_a), batch, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"3": {"cycle_time_s": ["Ensure this value is greater than or equal to 0."]}}
    assert not Episode.objects.filter(trial=trial_a).exists()


BAD_ITEMS: list[tuple[str, dict[str, Any], str, tuple[str, ...]]] = [
    ("wrong type", {"cycle_time_s": "fast"}, "cycle_time_s", ()),
    ("wrong type of events", {"events": "none"}, "events", ()),
    ("missing field", {"outcome": None}, "outcome", ()),
    ("unknown outcome", {"outcome": "great"}, "outcome", ()),
    ("negative duration", {"cycle_time_s": -0.5}, "cycle_time_s", ()),
    ("duration beyond a day (date overflow)", {"cycle_time_s": 2.6e16}, "cycle_time_s", ()),
    ("start at the end of the calendar", {"started_at": "9999-12-31T23:59:59Z"}, "started_at", ()),
    ("ends before it starts", {"ended_at": "2026-11-25T07:00:00Z"}, "ended_at", ()),
    ("bad timestamp", {"started_at": "yesterday"}, "started_at", ()),
    ("index outside the trial", {"index": 50}, "index", ()),
    ("empty external id", {"external_id": ""}, "external_id", ()),
]


@pytest.mark.parametrize(("case", "change", "field", "_"), BAD_ITEMS, ids=[c[0] for c in BAD_ITEMS])
def test_invalid_episode_field_is_a_400_naming_it(
    client_a: APIClient, trial_a: Trial, case: str, change: dict[str, Any], field: str, _: tuple[str, ...]
) -> None:
    item = episode_payload(0)
    for key, value in change.items():
        if value is None:
            item.pop(key)
        else:
            item[key] = value
    response = client_a.post(url(trial_a), [episode_payload(1), item], format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]["1"], response.json()
    assert not Episode.objects.exists()


BAD_EVENTS: list[tuple[str, list[dict[str, Any]], str, str]] = [
    (
        "unknown category",
        [{"kind": "fault", "category": "gremlins", "t_offset_s": 1}],
        "0",
        "category",
    ),
    (
        "unknown kind",
        [{"kind": "oops", "category": "drop", "t_offset_s": 1}],
        "0",
        "kind",
    ),
    (
        "negative offset",
        [{"kind": "fault", "category": "drop", "t_offset_s": -1}],
        "0",
        "t_offset_s",
    ),
    (
        "out of time order",
        [
            {"kind": "fault", "category": "drop", "t_offset_s": 5},
            {"kind": "fault", "category": "drop", "t_offset_s": 2},
        ],
        "1",
        "t_offset_s",
    ),
    (
        "after the episode end",
        [{"kind": "fault", "category": "drop", "t_offset_s": 30}],
        "0",
        "t_offset_s",
    ),
]


@pytest.mark.parametrize(("case", "events", "position", "field"), BAD_EVENTS, ids=[c[0] for c in BAD_EVENTS])
def test_invalid_event_is_a_400_naming_episode_event_and_field(
    client_a: APIClient, trial_a: Trial, case: str, events: list[dict[str, Any]], position: str, field: str
) -> None:
    response = client_a.post(url(trial_a), [episode_payload(0, events=0) | {"events": events}], format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]["0"]["events"][position], response.json()
    assert not Episode.objects.exists()


def test_repeated_external_id_or_index_within_a_request_is_rejected(client_a: APIClient, trial_a: Trial) -> None:
    response = client_a.post(
        url(trial_a),
        [episode_payload(0, index=4), episode_payload(1, index=4), episode_payload(0, external_id="ep-00000")],
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "index" in errors["1"] and "external_id" in errors["2"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [([], "empty"), ("a string", "Expected an episode"), (42, "Expected an episode")],
)
def test_body_that_is_not_episodes_is_a_400(client_a: APIClient, trial_a: Trial, body: Any, expected: str) -> None:
    response = client_a.post(url(trial_a), body, format="json")
    assert response.status_code == 400
    assert expected in response.json()["errors"]["non_field_errors"][0]


def test_more_than_1000_episodes_is_a_400(client_a: APIClient, trial_a: Trial) -> None:
    response = client_a.post(url(trial_a), [episode_payload(0)] * 1001, format="json")
    assert response.status_code == 400
    assert "at most 1000" in response.json()["errors"]["non_field_errors"][0]


def test_malformed_json_and_nan_are_400(client_a: APIClient, trial_a: Trial) -> None:
    broken = client_a.post(url(trial_a), data='[{"external_id": ', content_type="application/json")
    nan = client_a.post(url(trial_a), data='{"cycle_time_s": NaN}', content_type="application/json")
    assert broken.status_code == 400 and broken.json()["code"] == "parse_error"
    assert nan.status_code == 400


@override_settings(API_MAX_BODY_BYTES=2000)
def test_oversize_body_is_413_json(client_a: APIClient, trial_a: Trial, make_batch: Batch) -> None:
    response = client_a.post(url(trial_a), make_batch(20), format="json")
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large" and "2000" in response.json()["detail"]
    assert not Episode.objects.exists()


def test_cancelled_trial_takes_no_new_episodes_409(client_a: APIClient, trial_a: Trial) -> None:
    trial_cancel(trial_id=trial_a.pk)
    response = client_a.post(url(trial_a), episode_payload(0), format="json")
    assert response.status_code == 409 and "cancelled" in response.json()["errors"]["trial"][0]


def test_another_organizations_trial_is_404_for_upload_and_list(
    client_b: APIClient, trial_a: Trial, make_batch: Batch
) -> None:
    assert client_b.post(url(trial_a), make_batch(1), format="json").status_code == 404
    assert client_b.get(url(trial_a)).status_code == 404
    assert not Episode.objects.exists()


def test_task_owner_sees_the_integrators_trial_but_may_not_upload_to_it(trial_a: Trial, make_batch: Batch) -> None:
    owner = token_client(UserFactory(organization=trial_a.task.organization, role=Role.ENGINEER))
    assert owner.get(url(trial_a)).status_code == 200
    assert owner.post(url(trial_a), make_batch(1), format="json").status_code == 403


def test_manager_may_not_upload() -> None:
    manager = UserFactory(role=Role.MANAGER)
    trial = TrialFactory(robot__organization=manager.organization, task__organization=manager.organization)
    response = token_client(manager).post(url(trial), episode_payload(0), format="json")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"


def test_upload_of_1000_episodes_runs_in_a_bounded_number_of_queries(
    client_a: APIClient, trial_a: Trial, make_batch: Batch, django_assert_max_num_queries: Any
) -> None:
    trial_a.episodes_planned = 1000
    trial_a.save(update_fields=["episodes_planned"])
    # A dozen statements plus bulk INSERTs in batches (SQLite caps variables per statement): not one per row.
    with django_assert_max_num_queries(60):
        response = client_a.post(url(trial_a), make_batch(1000, events=3), format="json")
    assert response.status_code == 201 and response.json()["created"] == 1000
    trial_a.refresh_from_db()
    assert trial_a.status == TrialStatus.COMPLETED


def test_index_taken_by_another_episode_is_409_naming_the_position(client_a: APIClient, trial_a: Trial) -> None:
    client_a.post(url(trial_a), episode_payload(0, index=0), format="json")
    response = client_a.post(url(trial_a), [episode_payload(5, index=1), episode_payload(6, index=0)], format="json")
    assert response.status_code == 409
    assert "index" in response.json()["errors"]["1"]
    assert Episode.objects.filter(trial=trial_a).count() == 1


def test_new_episode_for_a_full_trial_is_409_saying_so(client_a: APIClient, trial_a: Trial, make_batch: Batch) -> None:
    trial_a.episodes_planned = 2
    trial_a.save(update_fields=["episodes_planned"])
    assert client_a.post(url(trial_a), make_batch(2), format="json").status_code == 201
    response = client_a.post(url(trial_a), make_batch(3), format="json")
    assert response.status_code == 409
    assert "outside the trial's 0..1" in response.json()["errors"]["2"]["index"][0]
    assert "outside" in response.json()["detail"]
