"""Property-based run of every operation of the live OpenAPI schema (schemathesis, every check it has)
against a real server (pytest-django's live_server): no 5xx, every response documented and matching its
schema, invalid input rejected, valid input accepted, 401 without credentials, 405 with `Allow` for an
undocumented method. The agent operations run with a robot's own token, the rest with a user's.
Bounded: a few valid and a few invalid examples per operation, no shrinking.

Driven through `APIOperation.as_strategy` rather than `schema.parametrize()`: the latter's lazy fixture
loader does not run on pytest 9."""

from __future__ import annotations

import time
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup

from accounts.models import Role
from accounts.services import api_token_create
from robots.models import AgentJob, RobotKind
from robots.services import agent_jobs_create, robot_agent_token_issue
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

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES_PER_MODE = 4
BUDGET_S = 240  # a guard against a runaway run


@pytest.fixture
def api_world(live_server: Any) -> dict[str, Any]:
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
    _, raw = api_token_create(user=user, name="schemathesis")
    return {
        "user_token": raw,
        "robot_token": robot_agent_token_issue(robot=arm),
        "trial": trial.pk,
        "job": AgentJob.objects.filter(trial=agent_trial).order_by("index").first().pk,  # type: ignore[union-attr]
        "url": live_server.url,
    }


def _fixed_path(path: str, world: dict[str, Any]) -> dict[str, Any] | None:
    """Path parameters pinned to real rows, so validation and ingest paths run, not only 404s."""
    if "{trial_pk}" in path:
        return {"trial_pk": world["trial"]}
    if "{job_id}" in path:
        return {"job_id": world["job"]}
    return None


def test_every_operation_conforms_to_its_schema_and_never_errors(api_world: dict[str, Any]) -> None:
    schema = schemathesis.openapi.from_url(f"{api_world['url']}/api/v1/schema/")
    failures: list[str] = []
    calls = 0
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        token = api_world["robot_token"] if operation.path.startswith("/api/v1/agent/") else api_world["user_token"]
        headers = {"Authorization": f"Token {token}"}
        fixed = _fixed_path(operation.path, api_world)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES_PER_MODE,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed))
            def run(case: Any) -> None:
                nonlocal calls
                calls += 1
                # Explicit headers: the real token replaces a generated one, and schemathesis knows it is
                # valid, so its auth check also probes the operation without it and with a wrong one.
                case.call_and_validate(headers=headers)

            try:
                run()
            except Unsatisfiable:
                # Nothing to make invalid: an operation without parameters or body has no negative cases.
                assert mode == GenerationMode.NEGATIVE, operation.label
            except (Exception, FailureGroup) as exc:  # collect every operation's failure, then fail once with all of them
                failures.append(f"{operation.label} [{mode.value}]: {str(exc)[:1500]}")
        assert time.monotonic() - started < BUDGET_S, f"schemathesis run exceeded {BUDGET_S}s"
    assert calls > 100, f"only {calls} requests were made"
    assert not failures, f"{len(failures)} failures\n\n" + "\n\n".join(failures)
