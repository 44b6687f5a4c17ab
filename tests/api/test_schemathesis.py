"""Property-based run of every operation of the live OpenAPI schema (schemathesis) against a real
server (pytest-django's live_server): no 5xx, and every documented response matches its schema.
Bounded: a few valid and a few invalid examples per operation, no shrinking, so it takes seconds.

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
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from accounts.models import Role
from accounts.services import api_token_create
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
BUDGET_S = 150  # a guard against a runaway run; it takes 40-60 s on a 2-core machine


@pytest.fixture
def api_world(live_server: Any) -> dict[str, Any]:
    """An engineer's organization with a site, robot, task, trial, episodes and events, and a token."""
    org = OrganizationFactory()
    user = UserFactory(organization=org, role=Role.ENGINEER)
    site = SiteFactory(organization=org)
    robot = RobotFactory(organization=org, site=site)
    trial = TrialFactory(
        task=TaskFactory(organization=org, site=site), robot=robot, policy_version=PolicyVersionFactory()
    )
    for index in range(3):
        EpisodeEventFactory(episode=EpisodeFactory(trial=trial, index=index, external_id=f"x{index}"))
    _, raw = api_token_create(user=user, name="schemathesis")
    return {"token": raw, "trial": trial.pk, "url": live_server.url}


def test_every_operation_conforms_to_its_schema_and_never_errors(api_world: dict[str, Any]) -> None:
    schema = schemathesis.openapi.from_url(f"{api_world['url']}/api/v1/schema/")
    headers = {"Authorization": f"Token {api_world['token']}"}
    failures: list[str] = []
    calls = 0
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        # Trial-scoped operations hit a real trial, so validation and ingest paths run, not only 404s.
        fixed = {"trial_pk": api_world["trial"]} if "{trial_pk}" in operation.path else None
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
                # The security scheme is an Authorization header, so negative cases may carry a fuzzed one;
                # authentication failures are covered elsewhere, here the real token goes with every case.
                case.headers = {**(case.headers or {}), **headers}
                case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])

            try:
                run()
            except Unsatisfiable:
                # Nothing to make invalid: an operation without parameters or body has no negative cases.
                assert mode == GenerationMode.NEGATIVE, operation.label
            except Exception as exc:  # collect every operation's failure, then fail once with all of them
                failures.append(f"{operation.label} [{mode.value}]: {str(exc)[:1500]}")
        assert time.monotonic() - started < BUDGET_S, f"schemathesis run exceeded {BUDGET_S}s"
    assert calls > 100, f"only {calls} requests were made"
    assert not failures, "\n\n".join(failures)
