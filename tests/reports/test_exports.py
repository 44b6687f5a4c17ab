"""CSV exports of a trial (streamed, one query, visibility-scoped) and the trial page's links to them."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from reports.exports.selectors import EPISODE_CSV_COLUMNS, EVENT_CSV_COLUMNS, episodes_csv
from tests.factories import (
    EpisodeEventFactory,
    EpisodeFactory,
    RobotFactory,
    TaskFactory,
    TrialFactory,
    UserFactory,
    client_for,
)
from trials.models import EpisodeOutcome, EventKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def trial() -> Any:
    task = TaskFactory()
    trial = TrialFactory(task=task, robot=RobotFactory(organization=task.organization))
    first = EpisodeFactory(trial=trial, index=0, outcome=EpisodeOutcome.SUCCESS, cycle_time_s=9.5)
    second = EpisodeFactory(
        trial=trial, index=1, outcome=EpisodeOutcome.FAILURE, cycle_time_s=14.25, external_id="rig-7"
    )
    EpisodeFactory(trial=trial, index=2, outcome=EpisodeOutcome.ABORTED, cycle_time_s=3.0)
    EpisodeEventFactory(episode=second, kind=EventKind.FAULT, category="drop", t_offset_s=8.0, message='fell, "hard"')
    EpisodeEventFactory(episode=second, kind=EventKind.INTERVENTION, category="grasp_miss", t_offset_s=2.0)
    EpisodeEventFactory(episode=first, kind=EventKind.INTERVENTION, category="perception", t_offset_s=1.0)
    return trial


def _rows(response: Any) -> list[dict[str, str]]:
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_episodes_csv_has_one_row_per_episode_in_index_order(trial: Any) -> None:
    user = UserFactory(organization=trial.task.organization, role=Role.MANAGER)
    response = client_for(user).get(reverse("report-trial-episodes-csv", args=[trial.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f"trial-{trial.pk}-episodes.csv" in response["Content-Disposition"]
    rows = _rows(response)
    assert [r["index"] for r in rows] == ["0", "1", "2"]
    assert list(rows[0]) == list(EPISODE_CSV_COLUMNS)
    assert [r["outcome"] for r in rows] == ["success", "failure", "aborted"]
    assert rows[1]["cycle_time_s"] == "14.25" and rows[1]["external_id"] == "rig-7" and rows[0]["external_id"] == ""
    assert rows[0]["started_at"].startswith("20") and "T" in rows[0]["started_at"]


def test_events_csv_orders_by_episode_then_time_and_quotes_text(trial: Any) -> None:
    user = UserFactory(organization=trial.task.organization, role=Role.ENGINEER)
    rows = _rows(client_for(user).get(reverse("report-trial-events-csv", args=[trial.pk])))
    assert list(rows[0]) == list(EVENT_CSV_COLUMNS)
    assert [(r["episode_index"], r["t_offset_s"], r["kind"]) for r in rows] == [
        ("0", "1.0", "intervention"),
        ("1", "2.0", "intervention"),
        ("1", "8.0", "fault"),
    ]
    assert rows[2]["message"] == 'fell, "hard"' and rows[2]["episode_external_id"] == "rig-7"


def test_exports_are_one_query_whatever_the_size(trial: Any) -> None:
    for i in range(3, 60):
        EpisodeFactory(trial=trial, index=i)
    with CaptureQueriesContext(connection) as queries:
        lines = list(episodes_csv(trial=trial))
    assert len(lines) == 61 and len(queries) == 1


def test_other_organization_gets_404_and_login_is_required(trial: Any) -> None:
    outsider = UserFactory(role=Role.ENGINEER)
    for name in ("report-trial-episodes-csv", "report-trial-events-csv"):
        url = reverse(name, args=[trial.pk])
        assert client_for(outsider).get(url).status_code == 404
        assert Client().get(url).status_code == 302


def test_trial_page_links_to_both_exports(trial: Any) -> None:
    user = UserFactory(organization=trial.task.organization, role=Role.ENGINEER)
    html = client_for(user).get(reverse("trial-detail", args=[trial.pk])).content.decode()
    assert reverse("report-trial-episodes-csv", args=[trial.pk]) in html
    assert reverse("report-trial-events-csv", args=[trial.pk]) in html


def test_text_that_a_spreadsheet_would_run_as_a_formula_is_neutralised(trial: Any) -> None:
    episode = trial.episodes.get(index=0)
    EpisodeEventFactory(episode=episode, t_offset_s=0.5, message='=HYPERLINK("http://x","click")')
    user = UserFactory(organization=trial.task.organization, role=Role.ENGINEER)
    rows = _rows(client_for(user).get(reverse("report-trial-events-csv", args=[trial.pk])))
    formula = next(r for r in rows if "HYPERLINK" in r["message"])
    assert formula["message"].startswith("'=")
    assert all(not r["t_offset_s"].startswith("'") for r in rows)  # numbers are left alone
