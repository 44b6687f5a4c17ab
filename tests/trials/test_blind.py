"""Blind A/B comparisons: scheduling rules, the agent's neutral view, preferences, unblinding, scoping by
organization and role, and a scan of every page and API response for the versions before and after."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Role, User
from policies.models import PolicyVersion
from policies.services import policy_version_register
from robots.models import AgentJob, Robot, RobotKind
from robots.services import robot_agent_token_issue
from tests.factories import (
    OrganizationFactory,
    PolicyFactory,
    PolicyVersionFactory,
    RobotFactory,
    TaskFactory,
    UserFactory,
    client_for,
)
from tests.policies.onnx_models import linear_policy
from trials import queue, runner
from trials.blind.services import (
    BlindConflict,
    blind_comparison_schedule,
    blind_preference_record,
)
from trials.models import BlindComparison, BlindPreference, Episode, Task, Trial, TrialStatus
from trials.services import TrialRuleError

pytestmark = pytest.mark.django_db

SECRETS = {"A": ("Zebracrane", "v-alpha-77"), "B": ("Quokkagrip", "v-bravo-88")}


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def _version(name: str, version: str, seed: int) -> PolicyVersion:
    data, spec, _ = linear_policy(image_hw=(16, 16), instruction_dim=32, state_dim=3, action_dim=3, seed=seed)
    spec["images"][0]["camera"] = "top"
    spec["action"].update(low=[-1, -1, -1], high=[1, 1, 1])
    return policy_version_register(policy=PolicyFactory(name=name), version=version, file=data, io_spec=spec)


@pytest.fixture
def setup() -> dict[str, Any]:
    org = OrganizationFactory()
    integrator_org = OrganizationFactory()
    robot = RobotFactory(organization=org, kind=RobotKind.PHYSICAL, sim_cell_key="", name="rig-blind")
    task = TaskFactory(organization=org, integrator=integrator_org)
    return {
        "org": org,
        "robot": robot,
        "task": task,
        "a": _version(*SECRETS["A"], seed=1),
        "b": _version(*SECRETS["B"], seed=2),
        "engineer": UserFactory(organization=org, role=Role.ENGINEER),
        "manager": UserFactory(organization=org, role=Role.MANAGER),
        "integrator": UserFactory(organization=integrator_org, role=Role.INTEGRATOR),
        "outsider": UserFactory(organization=OrganizationFactory(), role=Role.ENGINEER),
    }


def _schedule(s: dict[str, Any], pairs: int = 4) -> BlindComparison:
    """Schedule, then start one arm as the worker does (tests/e2e/test_agent_blind.py runs a real one)."""
    comparison = blind_comparison_schedule(
        task=s["task"], version_a=s["a"], version_b=s["b"], robot=s["robot"], pairs=pairs, created_by=s["engineer"]
    )
    runner.trial_start(trial_id=Trial.objects.filter(blind=comparison).order_by("-pk").values_list("pk", flat=True)[0])
    return comparison


def _agent(robot: Robot) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {robot_agent_token_issue(robot=robot)}")
    return client


def _run_next(agent: APIClient, outcome: str) -> dict[str, Any]:
    job = agent.get("/api/v1/agent/jobs/next/").json()
    claimed = agent.post(f"/api/v1/agent/jobs/{job['id']}/claim/").json()
    body = {
        "lease_token": claimed["lease_token"],
        "outcome": outcome,
        "cycle_time_s": 5.0,
        "started_at": "2026-12-01T08:00:00Z",
    }
    done = agent.post(f"/api/v1/agent/jobs/{job['id']}/complete/", body, format="json")
    assert done.status_code == 201, done.content
    return {"job": job, "claimed": claimed, "complete": done.json()}


# --- scheduling ------------------------------------------------------------------------------------


def test_schedule_makes_two_sealed_arm_trials_and_jobs_in_the_sealed_order(setup: dict[str, Any]) -> None:
    comparison = _schedule(setup, pairs=6)
    trials = list(Trial.objects.filter(blind=comparison).order_by("pk"))
    assert [t.blind_arm for t in trials] == ["arm-1", "arm-2"]  # ids follow the neutral arm names
    assert {t.policy_version_id for t in trials} == {setup["a"].pk, setup["b"].pk}
    assert all(t.episodes_planned == 6 and t.status == TrialStatus.QUEUED for t in trials)
    assert comparison.order.count("A") == comparison.order.count("B") == 3
    jobs = list(AgentJob.objects.filter(trial__blind=comparison).order_by("run_sequence"))
    assert [j.run_sequence for j in jobs] == list(range(12))
    version_of = {t.pk: ("A" if t.policy_version_id == setup["a"].pk else "B") for t in trials}
    for pair in range(6):
        first, second = jobs[2 * pair], jobs[2 * pair + 1]
        assert first.index == second.index == pair
        assert version_of[first.trial_id] == comparison.order[pair] != version_of[second.trial_id]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"robot": "simulated"}, "robot"),
        ({"robot": "other_org"}, "robot"),
        ({"version_b": "same"}, "version_b"),
        ({"version_b": "remote"}, "version_b"),
        ({"pairs": 0}, "pairs"),
    ],
)
def test_schedule_refuses_with_the_field_named(setup: dict[str, Any], change: dict[str, Any], field: str) -> None:
    kwargs: dict[str, Any] = {
        "task": setup["task"], "version_a": setup["a"], "version_b": setup["b"], "robot": setup["robot"],
        "pairs": 3, "created_by": setup["engineer"],
    }  # fmt: skip
    if change.get("robot") == "simulated":
        kwargs["robot"] = RobotFactory(organization=setup["org"])
    if change.get("robot") == "other_org":
        kwargs["robot"] = RobotFactory(kind=RobotKind.PHYSICAL, sim_cell_key="")
    if change.get("version_b") == "same":
        kwargs["version_b"] = setup["a"]
    if change.get("version_b") == "remote":
        kwargs["version_b"] = PolicyVersionFactory(kind="remote_rest", endpoint_url="http://policy.local/act")
    if "pairs" in change:
        kwargs["pairs"] = change["pairs"]
    with pytest.raises(TrialRuleError) as caught:
        blind_comparison_schedule(**kwargs)
    assert caught.value.field == field
    assert not BlindComparison.objects.exists()


def test_api_create_names_the_field_and_manager_cannot_create(setup: dict[str, Any]) -> None:
    api = APIClient()
    api.force_authenticate(setup["engineer"])
    body = {
        "task": setup["task"].pk,
        "version_a": setup["a"].pk,
        "version_b": setup["a"].pk,
        "robot": setup["robot"].pk,
        "pairs": 2,
    }
    reply = api.post("/api/v1/blind-comparisons/", body, format="json")
    assert reply.status_code == 400 and "version_b" in reply.json()["errors"], reply.content
    reply = api.post("/api/v1/blind-comparisons/", {**body, "pairs": "many"}, format="json")
    assert reply.status_code == 400 and "pairs" in reply.json()["errors"]
    manager = APIClient()
    manager.force_authenticate(setup["manager"])
    assert (
        manager.post("/api/v1/blind-comparisons/", {**body, "version_b": setup["b"].pk}, format="json").status_code
        == 403
    )
    created = api.post("/api/v1/blind-comparisons/", {**body, "version_b": setup["b"].pk}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["unblinded"] is None and created.json()["progress"]["pairs"] == 2


def test_another_organization_gets_404(setup: dict[str, Any]) -> None:
    comparison = _schedule(setup)
    api = APIClient()
    api.force_authenticate(setup["outsider"])
    assert api.get(f"/api/v1/blind-comparisons/{comparison.pk}/").status_code == 404
    assert api.post(f"/api/v1/blind-comparisons/{comparison.pk}/cancel/").status_code == 404
    assert client_for(setup["outsider"]).get(reverse("blind-detail", args=[comparison.pk])).status_code == 404
    other_robot = RobotFactory(kind=RobotKind.PHYSICAL, sim_cell_key="")
    reply = _agent(other_robot).post(
        f"/api/v1/agent/blind-comparisons/{comparison.pk}/pairs/0/preference/", {"preferred": "tie"}, format="json"
    )
    assert reply.status_code == 404


def test_page_form_schedules_and_manager_gets_403(setup: dict[str, Any]) -> None:
    url = reverse("blind-create", args=[setup["task"].pk])
    assert client_for(setup["manager"]).get(url).status_code == 403
    engineer = client_for(setup["engineer"])
    assert engineer.get(url).status_code == 200
    body = {
        "version_a": setup["a"].pk,
        "version_b": setup["b"].pk,
        "robot": setup["robot"].pk,
        "pairs": 3,
        "seed": 5,
        "episode_timeout_s": 30,
    }
    reply = engineer.post(url, body)
    comparison = BlindComparison.objects.get()
    assert reply.status_code == 302 and reply["Location"] == reverse("blind-detail", args=[comparison.pk])
    refused = engineer.post(url, {**body, "version_b": setup["a"].pk})
    assert refused.status_code == 200 and "compare two different versions" in refused.content.decode()


# --- the agent's view, preferences, unblinding ------------------------------------------------------


def test_agent_sees_neutral_arms_and_a_job_scoped_artifact(setup: dict[str, Any]) -> None:
    comparison = _schedule(setup, pairs=2)
    agent = _agent(setup["robot"])
    job = agent.get("/api/v1/agent/jobs/next/").json()
    ref = job["policy_version"]
    assert ref["id"] is None and ref["name"] == ref["version"] == job["blind"]["arm"]
    assert job["blind"] == {"comparison": comparison.pk, "pair": 0, "position": "first", "arm": job["blind"]["arm"]}
    assert ref["artifact_path"] == f"/api/v1/agent/jobs/{job['id']}/artifact/"
    download = agent.get(ref["artifact_path"])
    assert download.status_code == 200
    data = b"".join(download.streaming_content)
    assert hashlib.sha256(bytes.fromhex(ref["digest_salt"]) + data).hexdigest() == ref["sha256"]
    assert ref["sha256"] not in {setup["a"].sha256, setup["b"].sha256}
    assert hashlib.sha256(data).hexdigest() in {setup["a"].sha256, setup["b"].sha256}
    assert job["blind"]["arm"] + ".onnx" in download["Content-Disposition"]
    # The version-id artifact URL is closed to sealed arms (the bytes would pair the arm with the id).
    for version in (setup["a"], setup["b"]):
        assert agent.get(f"/api/v1/agent/policy-versions/{version.pk}/artifact/").status_code == 404


def test_jobs_run_in_the_sealed_order_and_unblind_when_both_arms_end(setup: dict[str, Any]) -> None:
    comparison = _schedule(setup, pairs=3)
    agent = _agent(setup["robot"])
    a_trial = Trial.objects.get(blind=comparison, policy_version=setup["a"])
    seen = []
    for _ in range(6):
        run = _run_next(agent, "success")
        seen.append(("A" if run["job"]["trial"] == a_trial.pk else "B", run["job"]["blind"]["pair"]))
        comparison.refresh_from_db()
        assert (comparison.unblinded_at is None) == (len(seen) < 6)
    expected = [(v, i) for i, first in enumerate(comparison.order) for v in (first, "B" if first == "A" else "A")]
    assert seen == expected
    assert agent.get("/api/v1/agent/jobs/next/").status_code == 204


def test_preference_maps_the_operators_first_second_to_versions(setup: dict[str, Any]) -> None:
    comparison = _schedule(setup, pairs=2)
    agent = _agent(setup["robot"])
    url = f"/api/v1/agent/blind-comparisons/{comparison.pk}/pairs/0/preference/"
    _run_next(agent, "success")
    early = agent.post(url, {"preferred": "first"}, format="json")
    assert early.status_code == 409  # the pair's second episode has not run
    _run_next(agent, "failure")
    bad = agent.post(url, {"preferred": "A"}, format="json")
    assert bad.status_code == 400 and "preferred" in bad.json()["errors"]
    reply = agent.post(url, {"preferred": "first", "operator": "sam"}, format="json")
    assert reply.status_code == 200 and reply.json()["preferred"] == "first"
    assert set(reply.json()) == {"comparison", "pair", "preferred", "recorded_at"}  # nothing says which version
    assert BlindPreference.objects.get(comparison=comparison, pair=0).choice == comparison.order[0]
    agent.post(url, {"preferred": "tie"}, format="json")
    assert BlindPreference.objects.get(comparison=comparison, pair=0).choice == "tie"  # replaced, one per pair
    out_of_range = agent.post(
        f"/api/v1/agent/blind-comparisons/{comparison.pk}/pairs/9/preference/", {"preferred": "tie"}, format="json"
    )
    assert out_of_range.status_code == 400 and "pair" in out_of_range.json()["errors"]


def test_service_refuses_preference_after_unblinding(setup: dict[str, Any]) -> None:
    comparison = _schedule(setup, pairs=1)
    agent = _agent(setup["robot"])
    _run_next(agent, "success")
    _run_next(agent, "success")
    comparison.refresh_from_db()
    with pytest.raises(BlindConflict):
        blind_preference_record(comparison=comparison, pair=0, preferred="first", robot=setup["robot"])


def test_cancel_stops_the_jobs_and_unblinds(setup: dict[str, Any]) -> None:
    comparison = _schedule(setup, pairs=3)
    agent = _agent(setup["robot"])
    _run_next(agent, "success")
    api = APIClient()
    api.force_authenticate(setup["integrator"])  # engaged on the task, but not the robot's organization
    assert api.post(f"/api/v1/blind-comparisons/{comparison.pk}/cancel/").status_code == 403
    api.force_authenticate(setup["engineer"])
    reply = api.post(f"/api/v1/blind-comparisons/{comparison.pk}/cancel/")
    assert reply.status_code == 200 and reply.json()["unblinded"] is not None
    assert set(Trial.objects.filter(blind=comparison).values_list("status", flat=True)) == {TrialStatus.CANCELLED}
    assert agent.get("/api/v1/agent/jobs/next/").status_code == 204


def test_unblinded_result_counts_the_pairs(setup: dict[str, Any]) -> None:
    comparison = _schedule(setup, pairs=4)
    agent = _agent(setup["robot"])
    a_trial = Trial.objects.get(blind=comparison, policy_version=setup["a"])
    # A succeeds in every pair, B only in pair 0: 1 both, 3 only A.
    for _ in range(8):
        job = agent.get("/api/v1/agent/jobs/next/").json()
        is_a = job["trial"] == a_trial.pk
        outcome = "success" if is_a or job["blind"]["pair"] == 0 else "failure"
        claimed = agent.post(f"/api/v1/agent/jobs/{job['id']}/claim/").json()
        agent.post(
            f"/api/v1/agent/jobs/{job['id']}/complete/",
            {
                "lease_token": claimed["lease_token"],
                "outcome": outcome,
                "cycle_time_s": 5.0,
                "started_at": "2026-12-01T08:00:00Z",
            },
            format="json",
        )
        pair = job["blind"]["pair"]
        if job["blind"]["position"] == "second" and pair < 3:  # the operator prefers A in pairs 0-2
            preferred = "first" if comparison.order[pair] == "A" else "second"
            reply = agent.post(
                f"/api/v1/agent/blind-comparisons/{comparison.pk}/pairs/{pair}/preference/",
                {"preferred": preferred},
                format="json",
            )
            assert reply.status_code == 200, reply.content
    api = APIClient()
    api.force_authenticate(setup["manager"])  # a manager reads it
    body = api.get(f"/api/v1/blind-comparisons/{comparison.pk}/").json()
    result = body["unblinded"]["result"]
    assert result["table"] == {"both": 1, "only_a": 3, "only_b": 0, "neither": 0}
    assert result["paired"]["p_value"] == pytest.approx(0.25)  # 2 x (1/2)^3
    assert (result["preferences"]["prefer_a"], result["preferences"]["prefer_b"]) == (3, 0)
    assert body["unblinded"]["order"] == comparison.order
    assert body["unblinded"]["arms"]["A"]["label"] == " ".join(SECRETS["A"])
    page = client_for(setup["manager"]).get(reverse("blind-detail", args=[comparison.pk])).content.decode()
    assert "1 / 3 / 0 / 0" in page and " ".join(SECRETS["B"]) in page


# --- blinding: every page and API response, before and after ----------------------------------------


def _secrets(setup: dict[str, Any]) -> list[str]:
    words = [w for pair in SECRETS.values() for w in pair]
    for version in (setup["a"], setup["b"]):
        words += [version.sha256, Path(version.artifact.name).name]
    return words


def _version_ids_in(value: Any, ids: set[int]) -> list[str]:
    """Keys naming a version whose value is one of the versions' ids, anywhere in a JSON body."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if (
                key in {"policy_version", "version_a", "version_b", "policy_version_id"}
                and isinstance(item, int)
                and item in ids
            ):
                found.append(key)
            found += _version_ids_in(item, ids)
    elif isinstance(value, list):
        for item in value:
            found += _version_ids_in(item, ids)
    return found


def _responses(setup: dict[str, Any], comparison: BlindComparison, user: User) -> dict[str, Any]:
    task: Task = setup["task"]
    trials = list(Trial.objects.filter(blind=comparison))
    html: Client = client_for(user)
    api = APIClient()
    api.force_authenticate(user)
    urls = [
        "/tasks/",
        f"/tasks/{task.pk}/",
        "/trials/",
        f"/robots/{setup['robot'].pk}/",
        reverse("blind-detail", args=[comparison.pk]),
        reverse("stats-task-panel", args=[task.pk]),
        reverse("stats-task", args=[task.pk]),
        reverse("report-shortlist"),
        reverse("report-index"),
    ]
    for trial in trials:
        urls += [
            f"/trials/{trial.pk}/",
            f"/trials/{trial.pk}/progress/",
            f"/trials/{trial.pk}/episodes/",
            f"/trials/{trial.pk}/episodes/0/",
            reverse("report-trial-episodes-csv", args=[trial.pk]),
            reverse("report-trial-events-csv", args=[trial.pk]),
            reverse("stats-trial-panel", args=[trial.pk]),
        ]
    api_urls = [
        "/api/v1/trials/",
        "/api/v1/episodes/",
        "/api/v1/events/",
        f"/api/v1/tasks/{task.pk}/",
        f"/api/v1/tasks/{task.pk}/stats/",
        "/api/v1/blind-comparisons/",
        f"/api/v1/blind-comparisons/{comparison.pk}/",
        "/api/v1/shortlist/",
    ]
    for trial in trials:
        api_urls += [
            f"/api/v1/trials/{trial.pk}/",
            f"/api/v1/trials/{trial.pk}/episodes/",
            f"/api/v1/trials/{trial.pk}/stats/",
        ]
    out: dict[str, Any] = {}
    for url in urls:
        response = html.get(url)
        out[url] = (
            response.status_code,
            b"".join(response.streaming_content) if response.streaming else response.content,
        )
    for url in api_urls:
        response = api.get(url)
        out[url] = (response.status_code, response.content)
    return out


def _leaks(setup: dict[str, Any], responses: dict[str, Any]) -> list[str]:
    ids = {setup["a"].pk, setup["b"].pk}
    leaks = []
    for url, (status_code, content) in responses.items():
        assert status_code < 500, (url, status_code)
        text = content.decode(errors="replace")
        leaks += [f"{url}: {word}" for word in _secrets(setup) if word in text]
        if text.startswith(("{", "[")):
            leaks += [f"{url}: {key}" for key in _version_ids_in(json.loads(text), ids)]
    return leaks


@pytest.mark.parametrize("role", ["engineer", "manager", "integrator"])
def test_no_page_or_api_response_names_a_version_before_unblinding(setup: dict[str, Any], role: str) -> None:
    comparison = _schedule(setup, pairs=2)
    agent = _agent(setup["robot"])
    agent_bodies = []
    for _ in range(3):  # both episodes of pair 0 and the first of pair 1: still sealed
        run = _run_next(agent, "success")
        agent_bodies += [run["job"], run["claimed"], run["complete"]]
    agent_bodies.append(agent.get("/api/v1/agent/jobs/next/").json())
    comparison.refresh_from_db()
    assert comparison.unblinded_at is None
    responses = _responses(setup, comparison, setup[role])
    leaks = _leaks(setup, responses)
    for body in agent_bodies:
        text = json.dumps(body)
        leaks += [f"agent: {word}" for word in _secrets(setup) if word in text]
        leaks += [f"agent: {key}" for key in _version_ids_in(body, {setup["a"].pk, setup["b"].pk})]
    assert leaks == []
    for trial in Trial.objects.filter(blind=comparison):
        assert responses[f"/trials/{trial.pk}/"][0] == 404
        assert responses[f"/api/v1/trials/{trial.pk}/"][0] == 404
    # The sealed page still shows the progress, over both arms together.
    assert b"3 (both arms together)" in responses[reverse("blind-detail", args=[comparison.pk])][1]


def test_after_unblinding_the_pages_name_the_versions(setup: dict[str, Any]) -> None:
    comparison = _schedule(setup, pairs=1)
    agent = _agent(setup["robot"])
    _run_next(agent, "success")
    _run_next(agent, "failure")
    comparison.refresh_from_db()
    assert comparison.unblinded_at is not None
    responses = _responses(setup, comparison, setup["engineer"])
    leaks = _leaks(setup, responses)
    assert any(reverse("blind-detail", args=[comparison.pk]) in leak for leak in leaks)
    for trial in Trial.objects.filter(blind=comparison):
        assert responses[f"/trials/{trial.pk}/"][0] == 200
        assert responses[f"/api/v1/trials/{trial.pk}/"][0] == 200
    assert Episode.objects.filter(trial__blind=comparison).count() == 2


def test_schedule_enqueues_the_start_and_a_second_start_adds_nothing(
    setup: dict[str, Any], django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[int] = []
    monkeypatch.setattr(queue, "trial_start_enqueue", lambda *, trial_id: started.append(trial_id))
    with django_capture_on_commit_callbacks(execute=True):
        comparison = blind_comparison_schedule(
            task=setup["task"], version_a=setup["a"], version_b=setup["b"], robot=setup["robot"], pairs=3,
            created_by=setup["engineer"],
        )  # fmt: skip
    arms = sorted(Trial.objects.filter(blind=comparison).values_list("pk", flat=True))
    assert sorted(started) == arms
    assert not AgentJob.objects.exists()  # the worker makes them
    runner.trial_start(trial_id=arms[0])
    assert AgentJob.objects.filter(trial__blind=comparison).count() == 6  # both arms at once
    runner.trial_start(trial_id=arms[1])
    assert AgentJob.objects.filter(trial__blind=comparison).count() == 6


def test_a_pairs_second_completion_carries_the_preference_before_unblinding(setup: dict[str, Any]) -> None:
    comparison = _schedule(setup, pairs=1)
    agent = _agent(setup["robot"])
    _run_next(agent, "success")
    job = agent.get("/api/v1/agent/jobs/next/").json()
    claimed = agent.post(f"/api/v1/agent/jobs/{job['id']}/claim/").json()
    body = {"lease_token": claimed["lease_token"], "outcome": "failure", "cycle_time_s": 5.0,
            "started_at": "2026-12-01T08:00:00Z", "preference": "second"}  # fmt: skip
    assert agent.post(f"/api/v1/agent/jobs/{job['id']}/complete/", body, format="json").status_code == 201
    comparison.refresh_from_db()
    assert comparison.unblinded_at is not None  # the last pair: unblinded by this very completion
    expected = "B" if comparison.order[0] == "A" else "A"
    assert BlindPreference.objects.get(comparison=comparison, pair=0).choice == expected


def test_a_first_episode_refuses_a_preference_naming_the_field(setup: dict[str, Any]) -> None:
    _schedule(setup, pairs=1)
    agent = _agent(setup["robot"])
    job = agent.get("/api/v1/agent/jobs/next/").json()
    claimed = agent.post(f"/api/v1/agent/jobs/{job['id']}/claim/").json()
    body = {"lease_token": claimed["lease_token"], "outcome": "success", "cycle_time_s": 5.0,
            "started_at": "2026-12-01T08:00:00Z", "preference": "first"}  # fmt: skip
    reply = agent.post(f"/api/v1/agent/jobs/{job['id']}/complete/", body, format="json")
    assert reply.status_code == 400 and "preference" in reply.json()["errors"]
    assert not Episode.objects.exists()


def test_list_does_not_grow_queries_with_comparisons(setup: dict[str, Any], django_assert_max_num_queries: Any) -> None:
    for _ in range(5):
        _schedule(setup, pairs=1)
    api = APIClient()
    api.force_authenticate(setup["engineer"])
    with django_assert_max_num_queries(4):  # groups (role), count, page; fixed whatever the rows
        reply = api.get("/api/v1/blind-comparisons/")
    ids = [row["id"] for row in reply.json()["results"]]
    assert reply.status_code == 200 and sorted(ids) == sorted(BlindComparison.objects.values_list("pk", flat=True)), (
        ids,
        list(BlindComparison.objects.values_list("pk", "created_at")),
    )
