"""Field-level validation: each bad field gets its own clear message and nothing is saved."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from core.fit import FIT_DERIVED_KEYS, FIT_FACTOR_KEYS
from tests.factories import OrganizationFactory, PolicyVersionFactory, RobotFactory, TaskFactory, UserFactory
from trials.forms import TaskForm, TrialScheduleForm
from trials.models import Task, Trial

pytestmark = pytest.mark.django_db

GOOD_TASK = {
    "name": "Box packing P2",
    "station": "Shipping / P2",
    "part": "Housing",
    "instruction": "put the housing into the box",
    "manual_cycle_time_s": "14",
    "takt_time_s": "20",
    "annual_volume": "150000",
    "shifts_per_day": "1",
    "hours_per_shift": "8",
    "operating_days_per_year": "230",
    "operators_per_shift": "1",
    "labour_cost_per_hour": "40",
    "status": "candidate",
    **{f"fit_{key}": "4" for key in FIT_FACTOR_KEYS},
}

BAD_TASK_FIELDS = [
    ("manual_cycle_time_s", "0", "Manual cycle time must be greater than 0 seconds."),
    ("manual_cycle_time_s", "-3", "Manual cycle time must be greater than 0 seconds."),
    ("takt_time_s", "0", "Takt time must be greater than 0 seconds."),
    ("shifts_per_day", "0", "Shifts per day must be between 1 and 3."),
    ("shifts_per_day", "4", "Shifts per day must be between 1 and 3."),
    ("hours_per_shift", "-1", "Hours per shift must be between 0 and 24."),
    ("hours_per_shift", "24.5", "Hours per shift must be between 0 and 24."),
    ("labour_cost_per_hour", "-0.01", "Labour cost cannot be negative."),
    ("operators_per_shift", "-1", "Operators per shift cannot be negative."),
    ("takt_time_s", "fast", "Enter a number."),
    ("name", "", "This field is required."),
    ("fit_payload", "", "Rate payload from 1 to 5."),
    ("fit_payload", "7", "Select a valid choice. 7 is not one of the available choices."),
]


@pytest.fixture
def engineer():
    return UserFactory(role=Role.ENGINEER)


@pytest.mark.parametrize(("field", "value", "message"), BAD_TASK_FIELDS)
def test_task_form_reports_each_bad_field(engineer, field: str, value: str, message: str) -> None:
    form = TaskForm({**GOOD_TASK, field: value}, user=engineer)
    assert not form.is_valid()
    assert form.errors[field] == [message]
    assert set(form.errors) == {field}  # the message sits on the field at fault, nowhere else


@pytest.mark.parametrize(("field", "value", "message"), BAD_TASK_FIELDS)
def test_bad_task_post_saves_nothing_and_shows_the_message(engineer, field: str, value: str, message: str) -> None:
    client = Client()
    client.force_login(engineer)
    response = client.post(reverse("task-create"), {**GOOD_TASK, field: value})
    assert response.status_code == 200
    assert Task.objects.count() == 0
    page = response.content.decode()
    assert message.replace("'", "&#x27;") in page
    assert "The task was not saved" in page


def test_bad_edit_changes_nothing(engineer) -> None:
    task = TaskFactory(organization=engineer.organization, takt_time_s=12.0)
    client = Client()
    client.force_login(engineer)
    response = client.post(
        reverse("task-edit", args=[task.pk]),
        {**GOOD_TASK, "name": task.name, "takt_time_s": "9", "shifts_per_day": "5"},
    )
    assert response.status_code == 200
    task.refresh_from_db()
    assert task.takt_time_s == 12.0 and task.shifts_per_day == 2


def test_good_task_form_is_valid(engineer) -> None:
    form = TaskForm(GOOD_TASK, user=engineer)
    assert form.is_valid(), form.errors
    assert form.fit_ratings == {k: 4 for k in FIT_FACTOR_KEYS if k not in FIT_DERIVED_KEYS}


@pytest.mark.parametrize(("shifts", "hours"), [("3", "24"), ("2", "12.5"), ("3", "8.1")])
def test_shifts_times_hours_over_24_is_refused_on_hours_per_shift(engineer, shifts: str, hours: str) -> None:
    # Issue 13 item 9: 3 shifts x 24 h (72 h a day) was accepted.
    form = TaskForm({**GOOD_TASK, "shifts_per_day": shifts, "hours_per_shift": hours}, user=engineer)
    assert not form.is_valid()
    assert set(form.errors) == {"hours_per_shift"}
    assert "at most 24 h" in form.errors["hours_per_shift"][0]


@pytest.mark.parametrize(("shifts", "hours"), [("3", "8"), ("2", "12"), ("1", "24")])
def test_shifts_times_hours_up_to_24_is_accepted(engineer, shifts: str, hours: str) -> None:
    assert TaskForm({**GOOD_TASK, "shifts_per_day": shifts, "hours_per_shift": hours}, user=engineer).is_valid()


def test_form_does_not_offer_the_factors_the_figures_decide(engineer) -> None:
    form = TaskForm(user=engineer)
    assert not {f"fit_{k}" for k in FIT_DERIVED_KEYS} & set(form.fields)


def test_task_form_offers_only_the_users_sites(engineer) -> None:
    other_site_robot = RobotFactory()  # another organization
    form = TaskForm(user=engineer)
    assert other_site_robot.organization_id != engineer.organization_id
    assert list(form.fields["site"].queryset) == []


@pytest.fixture
def schedule_setup(engineer):
    task = TaskFactory(organization=engineer.organization)
    robot = RobotFactory(organization=engineer.organization)
    return engineer, task, robot, PolicyVersionFactory()


def _schedule_data(robot, version, **overrides):
    return {
        "policy_version": version.pk,
        "robot": robot.pk,
        "episodes_planned": "10",
        "seed": "0",
        "episode_timeout_s": "60",
        **overrides,
    }


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("episodes_planned", "0", "Episodes must be between 1 and 10,000."),
        ("episodes_planned", "10001", "Episodes must be between 1 and 10,000."),
        ("seed", "-1", "The seed must be zero or positive."),
        ("episode_timeout_s", "0", "The episode timeout must be greater than 0 seconds."),
        ("policy_version", "", "This field is required."),
    ],
)
def test_schedule_form_reports_each_bad_field(schedule_setup, field: str, value: str, message: str) -> None:
    engineer, task, robot, version = schedule_setup
    form = TrialScheduleForm(_schedule_data(robot, version, **{field: value}), user=engineer, task=task)
    assert not form.is_valid()
    assert form.errors == {field: [message]}
    client = Client()
    client.force_login(engineer)
    response = client.post(reverse("trial-create", args=[task.pk]), _schedule_data(robot, version, **{field: value}))
    assert response.status_code == 200 and message in response.content.decode()
    assert Trial.objects.count() == 0


def test_schedule_form_only_offers_own_robots(schedule_setup) -> None:
    engineer, task, robot, version = schedule_setup
    foreign = RobotFactory(organization=OrganizationFactory())
    form = TrialScheduleForm(user=engineer, task=task)
    assert list(form.fields["robot"].queryset) == [robot]
    assert foreign not in form.fields["robot"].queryset
