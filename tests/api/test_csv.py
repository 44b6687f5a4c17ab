"""CSV upload (POST /api/v1/trials/{id}/episodes/csv/) and its template: same validation and idempotency as JSON."""

from __future__ import annotations

import io

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from core import episode_csv
from trials.models import Episode, EpisodeEvent, Trial

pytestmark = pytest.mark.django_db

HEADER = ",".join(episode_csv.CSV_COLUMNS)


def upload(client: APIClient, trial: Trial, text: str) -> object:
    file = io.BytesIO(text.encode("utf-8"))
    file.name = "results.csv"
    return client.post(f"/api/v1/trials/{trial.pk}/episodes/csv/", {"file": file}, format="multipart")


def test_template_download_is_the_documented_layout(client_a: APIClient) -> None:
    response = client_a.get("/api/v1/episodes/csv-template/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert response.content.decode().splitlines()[0] == HEADER


def test_uploading_the_template_records_its_episodes_and_events_once(client_a: APIClient, trial_a: Trial) -> None:
    first = upload(client_a, trial_a, episode_csv.template_csv())
    assert first.status_code == 201, first.json()
    assert first.json()["created"] == 2
    again = upload(client_a, trial_a, episode_csv.template_csv())
    assert again.status_code == 200 and again.json()["existing"] == 2
    assert Episode.objects.filter(trial=trial_a).count() == 2
    events = EpisodeEvent.objects.filter(episode__external_id="rig3-000002").order_by("t_offset_s")
    assert [(e.category, e.severity, e.t_offset_s) for e in events] == [
        ("grasp_miss", "warning", 3.5),
        ("drop", "error", 9.0),
    ]


def test_metric_columns_are_stored_as_numbers(client_a: APIClient, trial_a: Trial) -> None:
    text = f"{HEADER},metric_force_n\nm1,,success,10,2026-11-25T08:00:00Z,,,,,,,12.5\n"
    assert upload(client_a, trial_a, text).status_code == 201
    assert Episode.objects.get(external_id="m1").metrics == {"force_n": 12.5}


def test_bad_cells_are_reported_by_line_and_column_and_nothing_is_written(client_a: APIClient, trial_a: Trial) -> None:
    text = (
        f"{HEADER}\n"
        "a,,success,10,2026-11-25T08:00:00Z,,,,,,\n"
        "b,,success,-3,2026-11-25T08:01:00Z,,,,,,\n"
        "c,,success,10,2026-11-25T08:02:00Z,,2,fault,gremlins,,\n"
    )
    response = upload(client_a, trial_a, text)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"line 3", "line 4"}
    assert "cycle_time_s" in errors["line 3"] and "event_category" in errors["line 4"]
    assert not Episode.objects.exists()


def test_rows_of_one_episode_that_disagree_are_rejected(client_a: APIClient, trial_a: Trial) -> None:
    text = (
        f"{HEADER}\n"
        "a,,failure,10,2026-11-25T08:00:00Z,,1,fault,drop,,\n"
        "a,,success,10,2026-11-25T08:00:00Z,,2,fault,drop,,\n"
    )
    response = upload(client_a, trial_a, text)
    assert response.status_code == 400
    assert "disagree" in response.json()["errors"]["line 3"]["external_id"][0]


def test_missing_or_unknown_header_columns_are_named(client_a: APIClient, trial_a: Trial) -> None:
    response = upload(client_a, trial_a, "external_id,cycle,outcome\nx,1,success\n")
    assert response.status_code == 400
    header = response.json()["errors"]["header"]
    assert {"cycle_time_s", "started_at", "cycle"} <= set(header)


def test_conflicting_reupload_is_409_by_line(client_a: APIClient, trial_a: Trial) -> None:
    upload(client_a, trial_a, episode_csv.template_csv())
    changed = episode_csv.template_csv().replace("11.8", "12.9")
    response = upload(client_a, trial_a, changed)
    assert response.status_code == 409
    assert list(response.json()["errors"]) == ["line 2"]


def test_not_utf8_and_missing_file_are_400(client_a: APIClient, trial_a: Trial) -> None:
    file = io.BytesIO(b"\xff\xfe\x00bad")
    file.name = "x.csv"
    bad = client_a.post(f"/api/v1/trials/{trial_a.pk}/episodes/csv/", {"file": file}, format="multipart")
    missing = client_a.post(f"/api/v1/trials/{trial_a.pk}/episodes/csv/", {}, format="multipart")
    assert bad.status_code == 400 and "UTF-8" in bad.json()["errors"]["file"][0]
    assert missing.status_code == 400 and "file" in missing.json()["errors"]


@override_settings(API_MAX_BODY_BYTES=300)
def test_oversize_csv_is_413(client_a: APIClient, trial_a: Trial) -> None:
    assert upload(client_a, trial_a, episode_csv.template_csv() * 3).status_code == 413


def test_csv_upload_to_another_organizations_trial_is_404(client_b: APIClient, trial_a: Trial) -> None:
    assert upload(client_b, trial_a, episode_csv.template_csv()).status_code == 404
    assert not Episode.objects.exists()
