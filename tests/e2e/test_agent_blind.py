"""A blind A/B comparison end to end: scheduled over the API, started by a real Celery worker, run by the
real simulated agent over HTTP (in a process where Django cannot be imported, as on a robot PC) with the
operator's preferences typed on its stdin, and unblinded with the right counts."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import Role
from core.policy import onnx_runtime
from policies.models import Policy, PolicyVersion
from robots.models import AgentJob, RobotKind
from robots.services import robot_agent_token_issue
from tests.factories import RobotFactory, TaskFactory, UserFactory
from tests.no_django import python_without_django
from tests.support import ROOT, wait_until
from tests.trials.runner_support import FAST_CELL, reach_policy_version
from trials import runner
from trials.blind.services import blind_comparison_schedule
from trials.models import BlindComparison, BlindPreference, Episode, Trial, TrialStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

PAIRS = 4
ANSWERS = ["first", "second", "tie", "first"]


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    onnx_runtime.cache_clear()


def test_blind_ab_through_a_worker_and_the_agent_ends_unblinded_with_the_right_counts(
    live_server: Any, settings: Any, tmp_path: Path, embedded_broker_worker: Any
) -> None:
    robot = RobotFactory(kind=RobotKind.PHYSICAL, sim_cell_key="", name="rig-blind")
    task = TaskFactory(organization=robot.organization, instruction="put the part in the tray")
    engineer = UserFactory(organization=robot.organization, role=Role.ENGINEER)
    version_a, version_b = reach_policy_version(seed=1), reach_policy_version(seed=2)
    for version, name in ((version_a, "kestrel-alpha"), (version_b, "heron-bravo")):  # words a log cannot hold
        PolicyVersion.objects.filter(pk=version.pk).update(version=name)
        Policy.objects.filter(pk=version.policy_id).update(name=f"{name}-policy")
    api = APIClient()
    api.force_authenticate(engineer)
    embedded_broker_worker(MEDIA_ROOT=str(settings.MEDIA_ROOT))
    created = api.post(
        "/api/v1/blind-comparisons/",
        {"task": task.pk, "version_a": version_a.pk, "version_b": version_b.pk, "robot": robot.pk,
         "pairs": PAIRS, "seed": 11, "episode_timeout_s": 2.0},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.content
    comparison = BlindComparison.objects.get(pk=created.json()["id"])
    # The worker's start makes the jobs of both arms (nothing here creates them).
    wait_until(
        lambda: AgentJob.objects.filter(trial__blind=comparison).count() == 2 * PAIRS, timeout=60, what="agent jobs"
    )

    answers = tmp_path / "operator.txt"
    answers.write_text("".join(f"{a}\n" for a in ANSWERS))
    log_path = tmp_path / "agent.log"
    args = python_without_django(
        "core.agent", "--server", live_server.url, "--token", robot_agent_token_issue(robot=robot),
        "--cell", FAST_CELL, "--poll-wait", "1", "--cache-dir", str(tmp_path / "agent-cache"),
        "--exit-when-idle", "--ask-preference", "--no-record",
    )  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL"}}
    with answers.open("rb") as stdin, log_path.open("wb") as log:
        agent = subprocess.run(  # noqa: S603
            args, cwd=ROOT, env=env, stdin=stdin, stdout=log, stderr=subprocess.STDOUT, timeout=300, check=False
        )
    agent_log = log_path.read_text(errors="replace")
    assert agent.returncode == 0, agent_log[-3000:]

    comparison.refresh_from_db()
    assert comparison.unblinded_at is not None, agent_log[-3000:]
    arms = {t.policy_version_id: t for t in Trial.objects.filter(blind=comparison)}
    trial_a, trial_b = arms[version_a.pk], arms[version_b.pk]
    assert trial_a.status == trial_b.status == TrialStatus.COMPLETED
    # The jobs ran in the sealed order: pair by pair, each pair's first version as drawn.
    ran = list(AgentJob.objects.filter(trial__blind=comparison).order_by("finished_at", "pk"))
    assert [j.run_sequence for j in ran] == list(range(2 * PAIRS))
    assert [("A" if j.trial_id == trial_a.pk else "B") for j in ran[::2]] == comparison.order
    # The operator's first/second became versions through the order.
    for pair, answer in enumerate(ANSWERS):
        first = comparison.order[pair]
        expected = {"first": first, "second": "B" if first == "A" else "A", "tie": "tie"}[answer]
        assert BlindPreference.objects.get(comparison=comparison, pair=pair).choice == expected
    # What the agent saw and logged names neither version.
    for version in (version_a, version_b):
        version.refresh_from_db()
        assert version.sha256 not in agent_log and version.version not in agent_log
    # The figures count what was recorded.
    outcomes = {
        (e.trial_id, e.index): e.outcome == "success" for e in Episode.objects.counted().filter(trial__blind=comparison)
    }
    assert len(outcomes) == 2 * PAIRS
    a = [outcomes[(trial_a.pk, i)] for i in range(PAIRS)]
    b = [outcomes[(trial_b.pk, i)] for i in range(PAIRS)]
    body = api.get(f"/api/v1/blind-comparisons/{comparison.pk}/").json()
    table = body["unblinded"]["result"]["table"]
    assert table == {
        "both": sum(x and y for x, y in zip(a, b, strict=True)),
        "only_a": sum(x and not y for x, y in zip(a, b, strict=True)),
        "only_b": sum(y and not x for x, y in zip(a, b, strict=True)),
        "neither": sum(not x and not y for x, y in zip(a, b, strict=True)),
    }
    tally = body["unblinded"]["result"]["preferences"]
    choices = list(BlindPreference.objects.filter(comparison=comparison).values_list("choice", flat=True))
    assert (tally["prefer_a"], tally["prefer_b"], tally["ties"]) == (choices.count("A"), choices.count("B"), 1)
    assert body["progress"]["pairs_done"] == PAIRS


def test_prefer_command_records_a_pairs_preference_over_http(live_server: Any, tmp_path: Path) -> None:
    robot = RobotFactory(kind=RobotKind.PHYSICAL, sim_cell_key="")
    task = TaskFactory(organization=robot.organization)
    engineer = UserFactory(organization=robot.organization, role=Role.ENGINEER)
    comparison = blind_comparison_schedule(
        task=task, version_a=reach_policy_version(seed=1), version_b=reach_policy_version(seed=2), robot=robot,
        pairs=2, created_by=engineer,
    )  # fmt: skip
    runner.trial_start(trial_id=Trial.objects.filter(blind=comparison).values_list("pk", flat=True)[0])
    token = robot_agent_token_issue(robot=robot)
    agent = APIClient()
    agent.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    for _ in range(2):  # pair 0, both episodes
        job = agent.get("/api/v1/agent/jobs/next/").json()
        lease = agent.post(f"/api/v1/agent/jobs/{job['id']}/claim/").json()["lease_token"]
        body = {"lease_token": lease, "outcome": "success", "cycle_time_s": 1.0, "started_at": "2026-12-01T08:00:00Z"}
        assert agent.post(f"/api/v1/agent/jobs/{job['id']}/complete/", body, format="json").status_code == 201
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL"}}

    def prefer(pair: int, preferred: str) -> subprocess.CompletedProcess[str]:
        args = python_without_django(
            "core.agent", "prefer", "--server", live_server.url, "--token", token,
            "--comparison", str(comparison.pk), "--pair", str(pair), "--preferred", preferred, "--operator", "sam",
        )  # fmt: skip
        return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603

    done = prefer(0, "second")
    assert done.returncode == 0 and "preference recorded: pair 0, second" in done.stdout, done.stderr
    recorded = BlindPreference.objects.get(comparison=comparison, pair=0)
    assert recorded.choice == ("B" if comparison.order[0] == "A" else "A") and recorded.operator == "sam"
    early = prefer(1, "first")  # pair 1 has not run: the server's 409, said in words
    assert early.returncode == 1 and "not recorded" in early.stderr and "pair 1" in early.stderr
