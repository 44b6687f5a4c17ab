"""Property-based run of every operation of the live OpenAPI schema (schemathesis, every check it has)
against a real server (pytest-django's live_server): no 5xx, every response documented and matching its
schema, invalid input rejected, valid input accepted, 401 without credentials, 405 with `Allow` for an
undocumented method. The agent operations run with a robot's own token, the rest with a user's.
Bounded: a few valid and a few invalid examples per operation, no shrinking.

Driven through `APIOperation.as_strategy` rather than `schema.parametrize()`: the latter's lazy fixture
loader does not run on pytest 9."""

from __future__ import annotations

import fnmatch
import os
import re
import time
import warnings
from datetime import datetime, timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.core.parameters import ParameterLocation

from accounts.models import Role
from accounts.services import api_token_create
from common.api_support import MAX_ID
from robots.models import AgentJob, RobotKind
from robots.services import robot_agent_token_issue
from tests.factories import (
    EpisodeEventFactory,
    EpisodeFactory,
    OrganizationFactory,
    PolicyVersionFactory,
    RobotFactory,
    SiteFactory,
    TaskFactory,
    TrialFactory,
    UserFactory,
)
from tests.trials.runner_support import reach_policy_version
from trials.agents.services import agent_jobs_create
from trials.blind.services import blind_comparison_schedule
from trials.models import Task, Trial

pytestmark = pytest.mark.django_db(transaction=True)

# Failures that come from what OpenAPI cannot state: (operations, mode, failure titles, message pattern,
# why). One is reported as a warning when every failure of an operation matches it; any other failure still
# fails the test.
KNOWN_OPEN: list[tuple[str, str, set[str], str, str]] = [
    (
        "POST /api/v1/trials/{trial_pk}/episodes/csv/",
        "positive",
        {"Schema-valid request rejected"},
        r'"errors":\{"(file|line \d+)"',
        "not a defect: OpenAPI cannot say that the file must be UTF-8 CSV in the template's layout, so a "
        "generated file is a 400 naming `file` or a line (tests/api/test_csv.py covers the CSV rules)",
    ),
    (
        "PUT /api/v1/trials/{trial_pk}/episodes/{index}/media/*",
        "positive",
        {"Schema-valid request rejected"},
        r'"errors":\{"file"',
        "not a defect: OpenAPI cannot say that the bytes must decode as the kind's format (an H.264 MP4, a "
        "Parquet trajectory, a JPEG, a JSON object), so a generated body is a 400 naming `file` "
        "(tests/trials/test_media_api.py covers the formats)",
    ),
    (
        "POST /api/v1/trials/{trial_pk}/lerobot-imports/",
        "positive",
        {"Schema-valid request rejected"},
        r'"errors":\{"file"',
        "not a defect: OpenAPI cannot say that the body must be a zipped LeRobotDataset v3.0, so a generated "
        "body is a 400 naming `file` (tests/trials/test_lerobot_api.py covers the datasets)",
    ),
]
# Cases per operation and mode; SCHEMATHESIS_EXAMPLES=200 for a deeper run by hand.
EXAMPLES_PER_MODE = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "15"))
# Unset: the same cases on every run (derandomized). SCHEMATHESIS_SEED=<n>: other cases, reproducibly.
SEED = os.environ.get("SCHEMATHESIS_SEED")
ONLY = os.environ.get("SCHEMATHESIS_ONLY", "")  # run only operations whose label contains this (debugging)
# What a task's working day is when a create leaves a field out.
TASK_DAY_DEFAULTS = tuple(Task._meta.get_field(name).get_default() for name in ("shifts_per_day", "hours_per_shift"))
BUDGET_S = (
    480  # a guard against a runaway run; 15 cases per operation and mode take 1-2 min on 2 cores (4 min under load)
)


@pytest.fixture
def api_world(live_server: Any, settings: Any, tmp_path: Any) -> dict[str, Any]:
    """An engineer's organization with a site, simulated and physical robots, a task, trials, episodes,
    events and agent jobs; a user token and the physical robot's agent token."""
    org = OrganizationFactory()
    user = UserFactory(organization=org, role=Role.ENGINEER)
    site = SiteFactory(organization=org)
    task = TaskFactory(organization=org, site=site)
    trial = TrialFactory(task=task, robot=RobotFactory(organization=org, site=site))
    for index in range(3):
        EpisodeEventFactory(episode=EpisodeFactory(trial=trial, index=index, external_id=f"x{index}"))
    arm = RobotFactory(organization=org, site=site, kind=RobotKind.PHYSICAL, sim_cell_key="")
    agent_trial = TrialFactory(task=task, robot=arm, policy_version=PolicyVersionFactory(), episodes_planned=3)
    agent_jobs_create(trial=agent_trial)
    # A blind comparison on the physical robot whose pair 0 has run both episodes (its preference is open).
    settings.MEDIA_ROOT = tmp_path / "media"
    version_a, version_b = reach_policy_version(seed=1), reach_policy_version(seed=2)
    comparison = blind_comparison_schedule(
        task=task, version_a=version_a, version_b=version_b, robot=arm, pairs=2, created_by=user
    )
    for arm_trial in Trial.objects.filter(blind=comparison):
        EpisodeFactory(trial=arm_trial, index=0, source="robot_agent")
    _, raw = api_token_create(user=user, name="schemathesis")
    references = {
        "POST /api/v1/tasks/": {"site": site.pk, "integrator": None},
        "PATCH /api/v1/tasks/{id}/": {"site": site.pk, "integrator": None},
        # The runner itself is covered by the worker tests; here the trial waits for uploads.
        "POST /api/v1/trials/": {
            "task": task.pk,
            "robot": trial.robot_id,
            "policy_version": trial.policy_version_id,
            "start_runner": False,
        },
        "POST /api/v1/sweeps/": {"task": task.pk, "robot": trial.robot_id, "policy_version": trial.policy_version_id},
        # Two ONNX versions with files (a remote one, or the same twice, is a 400 naming version_b).
        "POST /api/v1/blind-comparisons/": {
            "task": task.pk,
            "robot": arm.pk,
            "version_a": version_a.pk,
            "version_b": version_b.pk,
        },
    }
    return {
        "task_day": (task.shifts_per_day, task.hours_per_shift),
        "episodes_planned": trial.episodes_planned,
        "references": references,
        "user_token": raw,
        "robot_token": robot_agent_token_issue(robot=arm),
        "trial": trial.pk,
        "episode_indexes": [0, 1, 2],
        "comparison": comparison.pk,
        "job": AgentJob.objects.filter(trial=agent_trial).order_by("index").first().pk,  # type: ignore[union-attr]
        "url": live_server.url,
    }


def _fixed_path(path: str, world: dict[str, Any]) -> dict[str, Any] | None:
    """Path parameters pinned to real rows, so validation and ingest paths run, not only 404s."""
    if "{trial_pk}" in path and "{index}" in path:
        return {"trial_pk": world["trial"], "index": 0}
    if "{trial_pk}" in path:
        return {"trial_pk": world["trial"]}
    if "{job_id}" in path:
        return {"job_id": world["job"]}
    if "{comparison_id}" in path:
        return {"comparison_id": world["comparison"], "pair": 0}
    return None


def _cross_field_constraints(case: Any, world: dict[str, Any]) -> None:
    """Rules between values, against the clock or the database, that JSON Schema cannot state: a positive
    case is made to follow them. Each is documented on its operation, and its 400 is tested with the
    operation's own tests. References to other rows point at real ones (as path ids do): a schema-valid id
    that names nothing is a 400 naming the field."""
    label = case.operation.label
    body = case.body if isinstance(case.body, dict) else {}
    for name, value in world["references"].get(label, {}).items():
        if name in body:
            body[name] = value
    # Episodes, uploaded (one or a list) or completed by the agent: a plausible past start, and an end not
    # before it (how far back or ahead an episode may be dated is the ingest rules' to say).
    episodes = case.body if isinstance(case.body, list) else [body]
    if label == "POST /api/v1/agent/jobs/{job_id}/events/":
        episodes = [body]  # a push of events: the same order rule
    seen_ids: set[Any] = set()
    seen_indexes: set[Any] = set()
    for position, episode in enumerate(e for e in episodes if isinstance(e, dict)):
        if label == "POST /api/v1/trials/{trial_pk}/episodes/":
            # Indexes within the trial's plan, and no index or external_id twice in one batch.
            if isinstance(episode.get("index"), int):
                episode["index"] %= world["episodes_planned"]
                episode["index"] = None if episode["index"] in seen_indexes else episode["index"]
            seen_indexes.add(episode.get("index"))
            # Compared as the server reads them: trimmed ("a" and "a " are one id).
            external_id = episode.get("external_id")
            key = external_id.strip() if isinstance(external_id, str) else external_id
            if key in seen_ids:
                key = episode["external_id"] = f"schemathesis-batch-{position}"
            seen_ids.add(key)
        for name in ("started_at", "ended_at"):
            if isinstance(episode.get(name), str) and not 2000 <= _instant(episode[name]).year <= 2025:
                episode[name] = "2020" + episode[name][4:]
        events = [e for e in episode.get("events", []) if isinstance(e, dict)] if "events" in episode else []
        offsets = [e["t_offset_s"] for e in events if type(e.get("t_offset_s")) in (int, float)]
        if len(offsets) == len(events) and events:
            # Events in time order, within the episode's cycle time.
            episode["events"] = sorted(events, key=lambda e: e["t_offset_s"])
            if type(episode.get("cycle_time_s")) in (int, float):
                episode["cycle_time_s"] = max(episode["cycle_time_s"], max(offsets))
        start, end = episode.get("started_at"), episode.get("ended_at")
        if isinstance(start, str) and isinstance(end, str) and _instant(end) < _instant(start):
            episode["ended_at"], episode["started_at"] = start, end
            start, end = end, start
        if isinstance(start, str) and isinstance(end, str) and offsets and len(offsets) == len(events):
            # Events within the episode: an end given explicitly lasts at least as long as its last event.
            last = _instant(start) + timedelta(seconds=max(offsets))
            if _instant(end) < last:
                episode["ended_at"] = last.isoformat()
    if label == "POST /api/v1/sweeps/" and "factors" in body:
        # Factor keys and level ranges are the cell's (tests/trials/test_sweeps.py: a bad one is a 400
        # naming factors.<key>); JSON Schema sees a map of lists.
        body["factors"] = {"light_intensity": [0.5]}
    if label == "GET /api/v1/trials/compare/" and case.query and case.query.get("a") == case.query.get("b"):
        case.query["b"] = case.query["a"] % MAX_ID + 1  # tests/reports/test_stats_api.py: a = b is a 400
    if label == "GET /api/v1/plan/paired/" and case.query and {"rate_a", "rate_b"} <= case.query.keys():
        # tests/reports/test_paired_planner.py: rates closer than a point need beyond 10 million seeds (a 400),
        # and a discordance outside [|rate_b - rate_a|, min(sum, 2 - sum)] no table of pairs can have (a 400).
        q = case.query
        if abs(q["rate_b"] - q["rate_a"]) < 0.01:
            q["rate_b"] = q["rate_a"] + 0.01 if q["rate_a"] < 0.5 else q["rate_a"] - 0.01
        low, high = abs(q["rate_b"] - q["rate_a"]), min(q["rate_a"] + q["rate_b"], 2 - q["rate_a"] - q["rate_b"])
        if "discordance" in q and not low <= q["discordance"] <= high:
            del q["discordance"]
    if label == "GET /api/v1/trials/{id}/stats/" and case.query and "acceptable" in case.query:
        acceptable = case.query["acceptable"]
        if not 0.0001 <= case.query.get("rejectable", 1) < acceptable:  # given together, rejectable below
            case.query["rejectable"] = max(acceptable / 2, 0.0001)
    if label.split(" ")[1].startswith("/api/v1/tasks/") and label.split(" ")[0] in {"POST", "PUT", "PATCH"}:
        # Shifts x hours per shift at most a day (a 400 on hours_per_shift). A value left out is the
        # model's default on a create and the task's own on an update: either way it counts.
        fallback = world["task_day"] if label.split(" ")[0] in {"PUT", "PATCH"} else TASK_DAY_DEFAULTS
        shifts = body.get("shifts_per_day", fallback[0])
        hours = body.get("hours_per_shift", fallback[1])
        if type(shifts) is int and type(hours) in (int, float) and shifts >= 1 and shifts * hours > 24:
            body["hours_per_shift"] = 24 / shifts
    if label in {"POST /api/v1/trials/{trial_pk}/episodes/{index}/reviews/", "POST /api/v1/trials/{trial_pk}/reviews/"}:
        # An override must say why (tests/trials/reviews/test_api.py: no reason is a 400 naming reason); a
        # confirmation needs none, and which one a request is depends on the episode's current outcome.
        if not str(body.get("reason") or "").strip():
            body["reason"] = "the video shows otherwise"
    if label == "POST /api/v1/trials/{trial_pk}/reviews/" and isinstance(body.get("indexes"), list):
        # Indexes name recorded episodes of the trial (tests/trials/reviews/test_api.py: one that names none
        # is a 400 naming indexes); JSON Schema sees a list of integers.
        recorded = world["episode_indexes"]
        body["indexes"] = sorted({i % len(recorded) for i in body["indexes"] if type(i) is int}) or [recorded[0]]
    if label == "POST /api/v1/tokens/" and body.get("expires_at"):
        body["expires_at"] = "2999-12-31T00:00:00Z"  # must be in the future


def _known_open(label: str, mode: str, exc: BaseException) -> str | None:
    """Why this failure is known and open elsewhere, or None."""
    for pattern, known_mode, titles, message, why in KNOWN_OPEN:
        if fnmatch.fnmatchcase(label, pattern) and mode == known_mode:
            parts = list(getattr(exc, "exceptions", [exc]))
            if all(getattr(f, "title", None) in titles for f in parts) and re.search(message, str(exc)):
                return why
    return None


def _instant(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except ValueError:  # a leap second (:60) is valid RFC 3339 that Python cannot hold
        return datetime.fromisoformat(value[:17] + "59" + value[19:])


def _exercise(operation: Any, mode: GenerationMode, world: dict[str, Any]) -> int:
    """Send EXAMPLES_PER_MODE cases of one operation and mode through every check. Returns how many were sent;
    raises the checks' failures."""
    token = world["robot_token"] if operation.path.startswith("/api/v1/agent/") else world["user_token"]
    headers = {"Authorization": f"Token {token}"}
    sent = 0

    @settings(
        max_examples=EXAMPLES_PER_MODE,
        deadline=None,
        derandomize=SEED is None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @seed(int(SEED or 0))
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=_fixed_path(operation.path, world)))
    def run(case: Any) -> None:
        nonlocal sent
        sent += 1
        # The case's own mode, not the strategy's: a "positive" strategy can draw a case that is not.
        if case.meta is not None and not case.meta.generation.mode.is_negative:
            _cross_field_constraints(case, world)
        if case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER):
            # The Authorization header is the one made invalid (or left out): send it as generated.
            case.call_and_validate()
        else:
            # Explicit headers: the real token replaces a generated one, and schemathesis knows it is valid,
            # so its auth check also probes the operation without a token and with a wrong one (a 401 each).
            case.call_and_validate(headers=headers)

    try:
        run()
    except Unsatisfiable:
        # Nothing to make invalid: an operation without parameters or body has no negative cases.
        assert mode == GenerationMode.NEGATIVE, operation.label
    return sent


def test_every_operation_conforms_to_its_schema_and_never_errors(api_world: dict[str, Any]) -> None:
    schema = schemathesis.openapi.from_url(f"{api_world['url']}/api/v1/schema/")
    failures: list[str] = []
    sent: dict[str, int] = {}
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        if ONLY not in operation.label:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                sent[operation.label] = sent.get(operation.label, 0) + _exercise(operation, mode, api_world)
            except (Exception, FailureGroup) as exc:  # collect every operation's failures, then fail once
                why = _known_open(operation.label, mode.value, exc)
                if why is not None:
                    warnings.warn(f"known open failure of {operation.label} [{mode.value}]: {why}", stacklevel=1)
                else:
                    failures.append(f"{operation.label} [{mode.value}]: {str(exc)[:1500]}")
        assert time.monotonic() - started < BUDGET_S, f"schemathesis run exceeded {BUDGET_S}s"
    assert not failures, f"{len(failures)} failures\n\n" + "\n\n".join(failures)
    assert all(sent.values()), f"operations never called: {[label for label, n in sent.items() if not n]}"
    if not ONLY:
        assert len([label for label in sent if " /api/v1/agent/" in label]) == 11, sorted(sent)
