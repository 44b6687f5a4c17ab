"""core/client.py against a real live server: batches, CSV splitting, and retries that never duplicate."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import requests

from accounts.models import Role
from accounts.services import api_token_create
from core import episode_csv
from core.client import TrialBenchClient, TrialBenchError, main
from tests.api.conftest import episode_payload
from tests.factories import OrganizationFactory, PolicyVersionFactory, RobotFactory, TaskFactory, UserFactory
from trials.models import Episode, EpisodeEvent

pytestmark = pytest.mark.django_db(transaction=True)


class LosesFirstResponses(requests.Session):
    """Delivers the first `lose` requests to the server, then raises as if the connection dropped before the
    response arrived: the worst case for a retry, since the server did write."""

    def __init__(self, lose: int) -> None:
        super().__init__()
        self.lose = lose
        self.sent = 0

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response = super().request(method, url, *args, **kwargs)
        self.sent += 1
        if self.lose > 0:
            self.lose -= 1
            raise requests.ConnectionError("connection reset before the response arrived")
        return response


@pytest.fixture
def setup(live_server: Any) -> dict[str, Any]:
    org = OrganizationFactory(kind="integrator")
    user = UserFactory(organization=org, role=Role.INTEGRATOR)
    _, token = api_token_create(user=user, name="client")
    return {
        "server": live_server.url,
        "token": token,
        "task": TaskFactory(integrator=org).pk,
        "robot": RobotFactory(organization=org).pk,
        "policy_version": PolicyVersionFactory().pk,
    }


def test_create_trial_and_push_2500_episodes_in_batches_twice_leaves_one_copy(setup: dict[str, Any]) -> None:
    client = TrialBenchClient(setup["server"], token=setup["token"], backoff_s=0.01)
    trial = client.create_trial(
        task=setup["task"], policy_version=setup["policy_version"], robot=setup["robot"], episodes_planned=2500
    )
    episodes = [episode_payload(n, events=1) for n in range(2500)]
    assert client.push_episodes(trial["id"], episodes) == {"created": 2500, "existing": 0}
    assert client.push_episodes(trial["id"], episodes) == {"created": 0, "existing": 2500}
    assert Episode.objects.filter(trial_id=trial["id"]).count() == 2500
    assert len(list(client.iterate(f"trials/{trial['id']}/episodes/", page_size=1000))) == 2500
    assert client.request("GET", f"trials/{trial['id']}/")["status"] == "completed"


def test_a_lost_response_is_retried_without_a_duplicate(setup: dict[str, Any]) -> None:
    session = LosesFirstResponses(lose=2)
    client = TrialBenchClient(setup["server"], token=setup["token"], backoff_s=0.01, session=session)
    trial = TrialBenchClient(setup["server"], token=setup["token"]).create_trial(
        task=setup["task"], policy_version=setup["policy_version"], robot=setup["robot"], episodes_planned=10
    )
    totals = client.push_episodes(trial["id"], [episode_payload(n, events=2) for n in range(5)])
    assert session.sent == 3  # written on the first try, confirmed as existing on the third
    assert totals == {"created": 0, "existing": 5}
    assert Episode.objects.filter(trial_id=trial["id"]).count() == 5
    assert EpisodeEvent.objects.filter(episode__trial_id=trial["id"]).count() == 10


def test_push_csv_splits_by_episode_and_is_idempotent(setup: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "rig.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(episode_csv.CSV_COLUMNS)
        for n in range(1200):
            start = f"2026-11-25T08:{n // 60 % 60:02d}:{n % 60:02d}Z"
            writer.writerow([f"r{n}", "", "failure", "10", start, "", "1.5", "fault", "drop", "error", "a"])
            writer.writerow([f"r{n}", "", "failure", "10", start, "", "4", "intervention", "other", "", "b"])
    client = TrialBenchClient(setup["server"], token=setup["token"])
    trial = client.create_trial(
        task=setup["task"], policy_version=setup["policy_version"], robot=setup["robot"], episodes_planned=1200
    )
    assert client.push_csv(trial["id"], str(path)) == {"created": 1200, "existing": 0}
    assert main(["--server", setup["server"], "--token", setup["token"], "--trial", str(trial["id"]), str(path)]) == 0
    assert Episode.objects.filter(trial_id=trial["id"]).count() == 1200
    assert EpisodeEvent.objects.filter(episode__trial_id=trial["id"]).count() == 2400


def test_invalid_data_raises_with_the_servers_field_errors(setup: dict[str, Any], tmp_path: Path) -> None:
    client = TrialBenchClient(setup["server"], token=setup["token"])
    trial = client.create_trial(
        task=setup["task"], policy_version=setup["policy_version"], robot=setup["robot"], episodes_planned=5
    )
    with pytest.raises(TrialBenchError) as caught:
        client.push_episodes(trial["id"], [episode_payload(0), episode_payload(1, outcome="meh")])
    assert caught.value.status == 400 and "outcome" in caught.value.body["errors"]["1"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([episode_payload(0, cycle_time_s=-1)]))
    assert main(["--server", setup["server"], "--token", setup["token"], "--trial", str(trial["id"]), str(bad)]) == 1
    assert not Episode.objects.filter(trial_id=trial["id"]).exists()


def test_push_csv_refuses_non_contiguous_rows_before_sending(tmp_path: Path) -> None:
    path = tmp_path / "rig.csv"
    rows = [
        episode_csv.CSV_COLUMNS,
        ["a", "", "failure", "10", "2026-11-25T08:00:00Z", "", "1", "fault", "drop", "", ""],
        ["b", "", "success", "10", "2026-11-25T08:01:00Z", "", "", "", "", "", ""],
        ["a", "", "failure", "10", "2026-11-25T08:00:00Z", "", "2", "fault", "drop", "", ""],
    ]
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    client = TrialBenchClient("http://127.0.0.1:9", token="unused", retries=0)
    with pytest.raises(ValueError, match="not contiguous"):
        client.push_csv(1, str(path))
