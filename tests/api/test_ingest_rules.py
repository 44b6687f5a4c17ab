"""Issue 14 items 1-4 on the integrator paths (JSON bulk, CSV over the API, CSV in the browser): uploads without
an index are never lost, and hostile or loosely typed input is a 400 naming the field, with nothing written."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from core import episode_csv
from tests.api.conftest import episode_payload
from tests.factories import client_for
from trials.models import Episode, Trial

pytestmark = pytest.mark.django_db

HEADER = ",".join(episode_csv.CSV_COLUMNS)
BATCHES = [[1, 1, 1], [1, 2], [2, 1, 1]]


def url(trial: Trial) -> str:
    return f"/api/v1/trials/{trial.pk}/episodes/"


def csv_upload(client: APIClient, trial: Trial, text: str) -> Any:
    file = io.BytesIO(text.encode("utf-8"))
    file.name = "results.csv"
    return client.post(f"/api/v1/trials/{trial.pk}/episodes/csv/", {"file": file}, format="multipart")


def csv_rows(items: list[dict[str, Any]], extra_header: str = "", extra_cells: str = "") -> str:
    lines = [HEADER + extra_header]
    for item in items:
        lines.append(f"{item['external_id']},,{item['outcome']},{item['cycle_time_s']},{item['started_at']},,,,,,")
        lines[-1] += extra_cells
    return "\n".join(lines) + "\n"


# --- Item 1: indexes of uploads without one ---------------------------------------------------


@pytest.mark.parametrize("sizes", BATCHES, ids=["-".join(map(str, b)) for b in BATCHES])
def test_json_uploads_without_index_take_the_next_indexes(
    client_a: APIClient, trial_a: Trial, sizes: list[int]
) -> None:
    sent = 0
    for size in sizes:
        batch = [episode_payload(n, events=0) for n in range(sent, sent + size)]
        response = client_a.post(url(trial_a), batch, format="json")
        assert response.status_code == 201, response.json()
        assert [r["index"] for r in response.json()["episodes"]] == list(range(sent, sent + size))
        sent += size
    assert sorted(Episode.objects.filter(trial=trial_a).values_list("index", flat=True)) == list(range(sent))


@pytest.mark.parametrize("sizes", BATCHES, ids=["-".join(map(str, b)) for b in BATCHES])
def test_csv_uploads_without_index_take_the_next_indexes(client_a: APIClient, trial_a: Trial, sizes: list[int]) -> None:
    sent = 0
    for size in sizes:
        text = csv_rows([episode_payload(n, events=0) for n in range(sent, sent + size)])
        response = csv_upload(client_a, trial_a, text)
        assert response.status_code == 201, response.json()
        assert [r["index"] for r in response.json()["episodes"]] == list(range(sent, sent + size))
        sent += size
    assert Episode.objects.filter(trial=trial_a).count() == sent


def test_upload_without_index_fills_the_lowest_free_index(client_a: APIClient, trial_a: Trial) -> None:
    last = trial_a.episodes_planned - 1
    assert client_a.post(url(trial_a), episode_payload(0, index=last), format="json").status_code == 201
    response = client_a.post(url(trial_a), [episode_payload(1), episode_payload(2, index=0)], format="json")
    assert response.status_code == 201, response.json()
    assert [r["index"] for r in response.json()["episodes"]] == [1, 0]


# --- Item 2: metrics and other hostile input --------------------------------------------------


def _nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


@pytest.mark.parametrize("depth", [3, 900, 1000, 5000])
def test_nested_metrics_are_400_naming_metrics(client_a: APIClient, trial_a: Trial, depth: int) -> None:
    item = json.dumps(episode_payload(0)).rstrip("}") + f', "metrics": {_nested(depth)}}}'
    response = client_a.generic("POST", url(trial_a), f"[{item}]", content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert "metrics" in response.json()["errors"]["0"]
    assert not Episode.objects.exists()


@pytest.mark.parametrize(
    ("metrics", "why"),
    [
        ({"force": True}, "bool"),
        ({"force": "12"}, "string"),
        ({"force": None}, "null"),
        ({"force": [1, 2]}, "list"),
        ({"force": 10**400}, "huge int"),
        ({"bad name!": 1.0}, "name"),
        ({"x" * 65: 1.0}, "long name"),
        ({f"m{i}": 1.0 for i in range(65)}, "too many"),
        ({"video": 1.0}, "reserved"),
    ],
)
def test_metrics_must_be_a_flat_map_of_names_to_finite_numbers(
    client_a: APIClient, trial_a: Trial, metrics: dict[str, Any], why: str
) -> None:
    response = client_a.post(url(trial_a), [episode_payload(0, metrics=metrics)], format="json")
    assert response.status_code == 400, (why, response.json())
    assert "metrics" in response.json()["errors"]["0"], why
    assert not Episode.objects.exists()


def test_valid_metrics_are_stored(client_a: APIClient, trial_a: Trial) -> None:
    metrics = {"grip_force_n": 12.5, "steps": 120, "camera.fps": -1e-3}
    assert client_a.post(url(trial_a), episode_payload(0, metrics=metrics), format="json").status_code == 201
    assert Episode.objects.get().metrics == metrics


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity", "1e999"])
def test_csv_non_finite_metric_is_400_naming_the_column(client_a: APIClient, trial_a: Trial, value: str) -> None:
    text = csv_rows([episode_payload(0)], ",metric_x", f",{value}")
    response = csv_upload(client_a, trial_a, text)
    assert response.status_code == 400, response.json()
    assert "metric_x" in response.json()["errors"]["line 2"]
    assert not Episode.objects.exists()


def test_csv_bad_metric_column_name_is_400_in_the_header(client_a: APIClient, trial_a: Trial) -> None:
    response = csv_upload(client_a, trial_a, csv_rows([episode_payload(0)], ",metric_a b", ",1"))
    assert response.status_code == 400
    assert "metric_a b" in response.json()["errors"]["header"]


def test_csv_field_longer_than_the_csv_module_limit_is_400_naming_the_column(
    client_a: APIClient, trial_a: Trial
) -> None:
    text = f'{HEADER}\nlong,,success,10,2026-11-25T08:00:00Z,,1,fault,drop,,"{"x" * 140_000}"\n'
    response = csv_upload(client_a, trial_a, text)
    assert response.status_code == 400, response.content[:300]
    assert "event_message" in response.json()["errors"]["line 2"]
    assert not Episode.objects.exists()


def test_csv_with_nul_byte_is_400(client_a: APIClient, trial_a: Trial) -> None:
    response = csv_upload(client_a, trial_a, f"{HEADER}\nn\x00ul,,success,10,2026-11-25T08:00:00Z,,,,,,\n")
    assert response.status_code == 400
    assert "line 2" in response.json()["errors"]


@pytest.mark.parametrize(
    ("cells", "column"),
    [(",metric_x", ",nan"), ("", "")],
    ids=["nan-metric", "long-field"],
)
def test_browser_upload_of_bad_csv_is_400_naming_the_column(
    integrator: User, trial_a: Trial, cells: str, column: str
) -> None:
    if cells:
        text, where = csv_rows([episode_payload(0)], cells, column), "metric_x"
    else:
        text, where = (
            f'{HEADER}\nlong,,success,10,2026-11-25T08:00:00Z,,1,fault,drop,,"{"x" * 140_000}"\n',
            "event_message",
        )
    file = io.BytesIO(text.encode())
    file.name = "results.csv"
    response = client_for(integrator).post(reverse("episode-csv-upload"), {"trial": trial_a.pk, "file": file})
    assert response.status_code == 400
    assert where in response.content.decode()
    assert not Episode.objects.exists()


# --- Item 4: loose types -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cycle_time_s", True),
        ("cycle_time_s", False),
        ("index", True),
        ("external_id", 7),
        ("started_at", "2026-11-25T08:00:00"),
        ("started_at", "0001-01-01T00:00:00Z"),
        ("started_at", "9999-12-31T23:59:59Z"),
        ("ended_at", "2026-11-25T08:00:30"),
    ],
)
def test_loosely_typed_fields_are_400_naming_the_field(
    client_a: APIClient, trial_a: Trial, field: str, value: Any
) -> None:
    response = client_a.post(url(trial_a), [episode_payload(0, **{field: value})], format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]["0"]
    assert not Episode.objects.exists()


def test_event_offset_true_is_400(client_a: APIClient, trial_a: Trial) -> None:
    item = episode_payload(0)
    item["events"][0]["t_offset_s"] = True
    response = client_a.post(url(trial_a), [item], format="json")
    assert response.status_code == 400
    assert "t_offset_s" in response.json()["errors"]["0"]["events"]["0"]


def test_csv_rows_of_one_episode_must_be_contiguous(client_a: APIClient, trial_a: Trial) -> None:
    text = (
        f"{HEADER}\n"
        "a,,failure,10,2026-11-25T08:00:00Z,,1,fault,drop,,\n"
        "b,,success,10,2026-11-25T08:01:00Z,,,,,,\n"
        "a,,failure,10,2026-11-25T08:00:00Z,,2,fault,drop,,\n"
    )
    response = csv_upload(client_a, trial_a, text)
    assert response.status_code == 400, response.json()
    assert "external_id" in response.json()["errors"]["line 4"]
    assert not Episode.objects.exists()


def test_csv_naive_started_at_is_400_by_line(client_a: APIClient, trial_a: Trial) -> None:
    response = csv_upload(client_a, trial_a, f"{HEADER}\na,,success,10,2026-11-25T08:00:00,,,,,,\n")
    assert response.status_code == 400
    assert "started_at" in response.json()["errors"]["line 2"]


# --- Siblings: booleans in the other numeric inputs of the trials API --------------------------


def test_trial_timeout_true_is_400(client_a: APIClient, trial_a: Trial) -> None:
    body = {
        "task": trial_a.task_id,
        "policy_version": trial_a.policy_version_id,
        "robot": trial_a.robot_id,
        "episodes_planned": 5,
        "episode_timeout_s": True,
    }
    response = client_a.post("/api/v1/trials/", body, format="json")
    assert response.status_code == 400, response.json()
    assert "episode_timeout_s" in response.json()["errors"]


@pytest.mark.parametrize("field", ["manual_cycle_time_s", "takt_time_s", "hours_per_shift"])
def test_task_float_true_is_400(field: str) -> None:
    from accounts.models import Role
    from tests.api.conftest import token_client
    from tests.factories import UserFactory
    from trials.models import Task

    body = {"name": "Kitting", "station": "S1", "part": "P", "instruction": "pick", "manual_cycle_time_s": 14.5}
    body |= {"takt_time_s": 18, "annual_volume": 1000, "labour_cost_per_hour": "48.50", field: True}
    response = token_client(UserFactory(role=Role.ENGINEER)).post("/api/v1/tasks/", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]
    assert not Task.objects.exists()


def test_csv_the_reader_cannot_read_is_400_by_line(client_a: APIClient, trial_a: Trial) -> None:
    response = csv_upload(client_a, trial_a, f"{HEADER}\na\rb,,success,10,2026-11-25T08:00:00Z,,,,,,\n")
    assert response.status_code == 400, response.content[:300]
    assert "row" in response.json()["errors"]["line 2"]


def test_an_offset_beyond_postgresqls_range_is_stored_as_the_same_instant_in_utc(
    client_a: APIClient, trial_a: Trial
) -> None:
    # RFC 3339 allows offsets up to +-23:59; PostgreSQL's timestamptz only +-15:59 (it was a 500 there).
    from datetime import UTC, datetime, timedelta, timezone

    episode = episode_payload(0, events=0) | {"started_at": "2020-04-30T14:27:49.96+16:36"}
    response = client_a.post(url(trial_a), [episode], format="json")
    assert response.status_code == 201, response.json()
    stored = Episode.objects.get(trial=trial_a).started_at
    sent = datetime(2020, 4, 30, 14, 27, 49, 960000, tzinfo=timezone(timedelta(hours=16, minutes=36)))
    assert stored == sent and stored.astimezone(UTC).utcoffset() == timedelta(0)
