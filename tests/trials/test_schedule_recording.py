"""A trial's recording settings (overview size and rate, media retention) through trial_schedule, the
schedule form and the trial API: defaults from the model, bad values refused naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from tests.api.conftest import token_client
from tests.factories import OrganizationFactory, PolicyVersionFactory, RobotFactory, TaskFactory, UserFactory
from trials.forms import TrialScheduleForm
from trials.models import DEFAULT_OVERVIEW_FPS, DEFAULT_OVERVIEW_PX, Trial
from trials.services import TrialRuleError, trial_schedule

pytestmark = pytest.mark.django_db

BAD_VALUES = [
    ("overview_px", 8),
    ("overview_px", 721),
    ("overview_fps", -1),
    ("overview_fps", 31),
    ("media_retention", "keep_some"),
    ("media_keep_successes", -2),
]


@pytest.fixture
def setup() -> dict[str, Any]:
    engineer = UserFactory(role=Role.ENGINEER)
    task = TaskFactory(organization=engineer.organization)
    robot = RobotFactory(organization=engineer.organization)
    return {"engineer": engineer, "task": task, "robot": robot, "version": PolicyVersionFactory()}


def _schedule(setup: dict[str, Any], **recording: Any) -> Trial:
    return trial_schedule(
        task=setup["task"],
        policy_version=setup["version"],
        robot=setup["robot"],
        episodes_planned=5,
        scheduled_by=setup["engineer"],
        start_runner=False,
        **recording,
    )


def test_schedule_stores_the_recording_settings_and_defaults_from_the_model(setup: dict[str, Any]) -> None:
    default = _schedule(setup)
    assert (default.overview_px, default.overview_fps) == (DEFAULT_OVERVIEW_PX, DEFAULT_OVERVIEW_FPS)
    assert default.media_retention == "" and default.media_keep_successes is None
    assert default.retention == ("keep_all", 10)  # the organization's
    asked = _schedule(
        setup, overview_px=256, overview_fps=10.0, media_retention="failures_first_n", media_keep_successes=3
    )
    asked.refresh_from_db()
    assert (asked.overview_px, asked.overview_fps, asked.retention) == (256, 10.0, ("failures_first_n", 3))


@pytest.mark.parametrize(("field", "value"), BAD_VALUES)
def test_schedule_refuses_a_bad_recording_setting_naming_the_field(
    setup: dict[str, Any], field: str, value: Any
) -> None:
    with pytest.raises(TrialRuleError) as caught:
        _schedule(setup, **{field: value})
    assert caught.value.field == field
    assert not Trial.objects.exists()


def _form_data(setup: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {
        "policy_version": setup["version"].pk,
        "robot": setup["robot"].pk,
        "episodes_planned": "10",
        "seed": "0",
        "episode_timeout_s": "60",
        **overrides,
    }


@pytest.mark.parametrize(("field", "value"), BAD_VALUES)
def test_schedule_form_marks_a_bad_recording_setting(setup: dict[str, Any], field: str, value: Any) -> None:
    form = TrialScheduleForm(_form_data(setup, **{field: str(value)}), user=setup["engineer"], task=setup["task"])
    assert not form.is_valid() and list(form.errors) == [field]
    client = Client()
    client.force_login(setup["engineer"])
    response = client.post(reverse("trial-create", args=[setup["task"].pk]), _form_data(setup, **{field: str(value)}))
    assert response.status_code == 200 and not Trial.objects.exists()


def test_schedule_form_blank_recording_fields_take_the_defaults_and_given_ones_are_stored(
    setup: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from trials import queue

    monkeypatch.setattr(queue, "trial_start_enqueue", lambda *, trial_id: None)
    client = Client()
    client.force_login(setup["engineer"])
    url = reverse("trial-create", args=[setup["task"].pk])
    page = client.get(url).content.decode()
    assert 'name="overview_px"' in page and 'name="media_retention"' in page
    blank = {"overview_px": "", "overview_fps": "", "media_retention": "", "media_keep_successes": ""}
    assert client.post(url, _form_data(setup, **blank)).status_code == 302
    trial = Trial.objects.get()
    assert (trial.overview_px, trial.overview_fps, trial.media_retention) == (DEFAULT_OVERVIEW_PX, 1.0, "")
    asked = {"overview_px": "128", "overview_fps": "5", "media_retention": "keep_none", "media_keep_successes": "2"}
    assert client.post(url, _form_data(setup, **asked)).status_code == 302
    trial = Trial.objects.order_by("-pk").first()
    assert trial is not None
    assert (trial.overview_px, trial.overview_fps, trial.media_retention, trial.media_keep_successes) == (
        128,
        5.0,
        "keep_none",
        2,
    )


@pytest.fixture
def api_setup() -> dict[str, Any]:
    integrator = UserFactory(organization=OrganizationFactory(kind="integrator"), role=Role.INTEGRATOR)
    task = TaskFactory(integrator=integrator.organization)
    robot = RobotFactory(organization=integrator.organization)
    body = {"task": task.pk, "policy_version": PolicyVersionFactory().pk, "robot": robot.pk, "episodes_planned": 5}
    return {"client": token_client(integrator), "body": body}


@pytest.mark.parametrize(("field", "value"), [*BAD_VALUES, ("overview_fps", True), ("overview_px", "big")])
def test_trial_api_refuses_a_bad_recording_setting_with_400_naming_the_field(
    api_setup: dict[str, Any], field: str, value: Any
) -> None:
    response = api_setup["client"].post("/api/v1/trials/", {**api_setup["body"], field: value}, format="json")
    assert response.status_code == 400 and field in response.json()["errors"]
    assert not Trial.objects.exists()


def test_trial_api_takes_and_returns_the_recording_settings(api_setup: dict[str, Any]) -> None:
    client, body = api_setup["client"], api_setup["body"]
    response = client.post("/api/v1/trials/", body, format="json")
    assert response.status_code == 201, response.json()
    got = response.json()
    assert (got["overview_px"], got["overview_fps"], got["media_retention"]) == (DEFAULT_OVERVIEW_PX, 1.0, "")
    assert got["media_keep_successes"] is None and got["stages"] == [] and got["preflight"] == {}
    asked = {"overview_px": 256, "overview_fps": 10, "media_retention": "failures_first_n", "media_keep_successes": 4}
    response = client.post("/api/v1/trials/", {**body, **asked}, format="json")
    assert response.status_code == 201, response.json()
    assert {k: response.json()[k] for k in asked} == {**asked, "overview_fps": 10.0}
