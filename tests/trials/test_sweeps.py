"""Sweeps: scheduling (conditions, common seeds, field-naming refusals) and results against a hand recount."""

from __future__ import annotations

import pytest

from accounts.models import Role
from robots.models import RobotKind
from tests.factories import EpisodeFactory, PolicyVersionFactory, RobotFactory, TaskFactory, UserFactory
from trials.models import EpisodeOutcome, Sweep, Trial
from trials.services import TrialRuleError
from trials.sweep_selectors import sweep_factor_keys, sweep_results
from trials.sweep_services import cell_factors, sweep_schedule

pytestmark = pytest.mark.django_db


def _setup() -> tuple[object, object, object, object]:
    user = UserFactory(role=Role.ENGINEER)
    task = TaskFactory(organization=user.organization)
    robot = RobotFactory(organization=user.organization)
    return user, task, robot, PolicyVersionFactory()


def _schedule(**overrides: object) -> Sweep:
    user, task, robot, version = _setup()
    kwargs: dict[str, object] = {
        "task": task,
        "policy_version": version,
        "robot": robot,
        "name": "lighting",
        "design": "one_at_a_time",
        "factors": {"light_intensity": [0.4, 1.5], "actuation_delay": [2]},
        "episodes_per_condition": 5,
        "seed": 1234,
        "created_by": user,
    }
    kwargs.update(overrides)
    return sweep_schedule(**kwargs)  # type: ignore[arg-type]


def test_one_at_a_time_makes_nominal_and_each_level_all_with_the_sweep_seed(
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        sweep = _schedule()
    trials = list(sweep.conditions.order_by("pk"))
    assert [t.sweep_label for t in trials] == [
        "nominal",
        "light_intensity=0.4",
        "light_intensity=1.5",
        "actuation_delay=2",
    ]
    assert [t.variation for t in trials] == [
        {},
        {"light_intensity": 0.4},
        {"light_intensity": 1.5},
        {"actuation_delay": 2.0},
    ]
    assert {t.seed for t in trials} == {1234} and {t.episodes_planned for t in trials} == {5}
    assert len(callbacks) == 4  # each condition handed to the runner once committed


def test_grid_is_every_combination_plus_nominal() -> None:
    sweep = _schedule(design="grid", factors={"light_intensity": [0.4, 1.5], "actuation_delay": [0, 2]})
    labels = sorted(sweep.conditions.values_list("sweep_label", flat=True))
    # actuation_delay nominal is 0: (1.5, 0) is "light_intensity=1.5" alone.
    assert labels == sorted(
        [
            "nominal",
            "light_intensity=0.4",
            "light_intensity=0.4, actuation_delay=2",
            "light_intensity=1.5",
            "light_intensity=1.5, actuation_delay=2",
        ]
    )


@pytest.mark.parametrize(
    ("factors", "field"),
    [
        ({"light_intensity": [9.0]}, "factors.light_intensity"),
        ({"no_such_factor": [1]}, "factors.no_such_factor"),
        ({"light_intensity": []}, "factors.light_intensity"),
        ({"part_colour": ["plaid"]}, "factors.part_colour"),
        ({}, "factors"),
    ],
)
def test_schedule_refuses_levels_the_cell_cannot_take_naming_the_field(factors: dict[str, object], field: str) -> None:
    with pytest.raises(TrialRuleError) as info:
        _schedule(factors=factors)
    assert info.value.field == field
    assert not Sweep.objects.exists() and not Trial.objects.exists()


def test_schedule_bounds_conditions_times_episodes() -> None:
    with pytest.raises(TrialRuleError) as info:
        _schedule(
            episodes_per_condition=10_000,
            factors={"light_intensity": [0.3, 0.4, 0.5, 0.6, 0.8, 1.2, 1.5, 2.0, 2.2, 2.4]},
        )
    assert info.value.field == "episodes_per_condition" and "110,000" in str(info.value)
    assert not Trial.objects.exists()


def test_schedule_refuses_physical_and_foreign_robots() -> None:
    user, task, _, version = _setup()
    physical = RobotFactory(organization=user.organization, kind=RobotKind.PHYSICAL, sim_cell_key="")
    for robot in (physical, RobotFactory()):
        with pytest.raises(TrialRuleError) as info:
            _schedule(task=task, robot=robot, created_by=user, policy_version=version)
        assert info.value.field == "robot"


def _outcomes(trial: Trial, pattern: str) -> None:
    for i, ch in enumerate(pattern):
        outcome = {"s": EpisodeOutcome.SUCCESS, "f": EpisodeOutcome.FAILURE, "l": EpisodeOutcome.LOST}[ch]
        EpisodeFactory(trial=trial, index=i, outcome=outcome)


def test_results_equal_a_hand_recount() -> None:
    sweep = _schedule(factors={"light_intensity": [0.4, 1.5]}, episodes_per_condition=10)
    nominal, dim, bright = sweep.conditions.order_by("pk")
    _outcomes(nominal, "ssssssssff")  # 8/10
    _outcomes(dim, "ssfsffsfff")  # 4/10; vs nominal: lost at 2,4,5,7 (nominal s, dim f), gained none
    _outcomes(bright, "sssssssslf")  # 8/9 counted; index 8 lost -> 9 pairs
    results = sweep_results(sweep=sweep, factors=cell_factors("factory-kitting"))
    by_label = {c.label: c for c in results.figures.conditions}
    assert (by_label["nominal"].successes, by_label["nominal"].episodes) == (8, 10)
    assert (by_label["light_intensity=0.4"].successes, by_label["light_intensity=0.4"].episodes) == (4, 10)
    assert (by_label["light_intensity=1.5"].successes, by_label["light_intensity=1.5"].episodes) == (8, 9)
    dim_cmp = by_label["light_intensity=0.4"].vs_nominal
    assert dim_cmp is not None
    assert (dim_cmp.n_pairs, dim_cmp.both, dim_cmp.only_a, dim_cmp.only_b, dim_cmp.neither) == (10, 4, 4, 0, 2)
    assert dim_cmp.p_value == pytest.approx(0.125)  # McNemar exact: 2 * 0.5**4
    bright_cmp = by_label["light_intensity=1.5"].vs_nominal
    assert bright_cmp is not None and (bright_cmp.n_pairs, bright_cmp.only_a, bright_cmp.only_b) == (9, 0, 0)
    (light,) = results.figures.sensitivities
    assert light.worst_label == "light_intensity=0.4" and light.drop == pytest.approx(0.4)
    assert light.drop_ci is not None and light.drop_ci.low < 0.4 < light.drop_ci.high
    assert results.figures.worst == "light_intensity=0.4"
    assert results.heatmap is None  # one factor


def test_two_factor_grid_has_a_heatmap_of_the_rates() -> None:
    sweep = _schedule(design="grid", factors={"light_intensity": [1.0, 0.4], "actuation_delay": [0, 2]})
    by_label = {t.sweep_label: t for t in sweep.conditions.all()}
    _outcomes(by_label["nominal"], "ssss")
    _outcomes(by_label["light_intensity=0.4"], "ssff")
    _outcomes(by_label["actuation_delay=2"], "sfff")
    _outcomes(by_label["light_intensity=0.4, actuation_delay=2"], "ffff")
    results = sweep_results(sweep=sweep, factors=cell_factors("factory-kitting"))
    assert results.heatmap is not None
    assert results.heatmap.x == ["0.4", "1"] and results.heatmap.y == ["0", "2"]
    assert results.heatmap.z == [[0.5, 1.0], [0.0, 0.25]]
    assert results.figures.worst == "light_intensity=0.4, actuation_delay=2"


def test_factors_come_in_the_cell_s_order_whatever_order_the_database_keeps() -> None:
    # Written action_noise first; PostgreSQL's jsonb reads keys back shorter-first, SQLite as written: the
    # tables and the heat map's axes follow the cell's declaration order either way.
    sweep = _schedule(design="grid", factors={"action_noise": [0.0, 0.2], "light_intensity": [1.0, 0.4]})
    sweep.refresh_from_db()
    factors = cell_factors("factory-kitting")
    assert sweep_factor_keys(sweep=sweep, factors=factors) == ["light_intensity", "action_noise"]
    results = sweep_results(sweep=sweep, factors=factors)
    assert [s.factor for s in results.figures.sensitivities] == ["light_intensity", "action_noise"]
    assert results.heatmap is not None and (results.heatmap.x_key, results.heatmap.y_key) == (
        "light_intensity",
        "action_noise",
    )
    sweep.factors = {**sweep.factors, "retired_factor": [1]}  # a key the cell no longer declares: last
    assert sweep_factor_keys(sweep=sweep, factors=factors)[-1] == "retired_factor"


# ---------------------------------------------------------------- pages and API


def test_api_schedules_lists_and_reads_results_scoped_to_the_organization(
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    from tests.factories import client_for

    user, task, robot, version = _setup()
    client = client_for(user)  # type: ignore[arg-type]
    body = {
        "task": task.pk,  # type: ignore[attr-defined]
        "policy_version": version.pk,  # type: ignore[attr-defined]
        "robot": robot.pk,  # type: ignore[attr-defined]
        "name": "light",
        "factors": {"light_intensity": [0.4]},
        "episodes_per_condition": 3,
        "seed": 7,
    }
    with django_capture_on_commit_callbacks():
        created = client.post("/api/v1/sweeps/", body, content_type="application/json")
    assert created.status_code == 201, created.content
    data = created.json()
    assert [c["label"] for c in data["conditions"]] == ["nominal", "light_intensity=0.4"]
    assert {c["seed"] for c in data["conditions"]} == {7}
    first, second = (c["trial"] for c in data["conditions"])
    _outcomes(Trial.objects.get(pk=first), "ssf")
    _outcomes(Trial.objects.get(pk=second), "fsf")
    results = client.get(f"/api/v1/sweeps/{data['id']}/results/").json()
    assert [(c["label"], c["successes"], c["episodes"], c["trial"]) for c in results["conditions"]] == [
        ("nominal", 2, 3, first),
        ("light_intensity=0.4", 1, 3, second),
    ]
    assert results["worst"] == "light_intensity=0.4"
    assert results["sensitivities"][0]["drop"] == pytest.approx(1 / 3)
    assert [s["id"] for s in client.get("/api/v1/sweeps/").json()["results"]] == [data["id"]]

    outsider = client_for(UserFactory(role=Role.ENGINEER))
    assert outsider.get(f"/api/v1/sweeps/{data['id']}/").status_code == 404
    assert outsider.get(f"/api/v1/sweeps/{data['id']}/results/").status_code == 404
    assert outsider.get("/api/v1/sweeps/").json()["results"] == []


def test_api_refuses_a_bad_level_with_400_naming_the_factor() -> None:
    from tests.factories import client_for

    user, task, robot, version = _setup()
    body = {
        "task": task.pk,  # type: ignore[attr-defined]
        "policy_version": version.pk,  # type: ignore[attr-defined]
        "robot": robot.pk,  # type: ignore[attr-defined]
        "name": "light",
        "factors": {"light_intensity": ["bright"]},
        "episodes_per_condition": 3,
    }
    response = client_for(user).post("/api/v1/sweeps/", body, content_type="application/json")  # type: ignore[arg-type]
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["factors.light_intensity"]
    assert not Sweep.objects.exists()


def test_pages_schedule_a_sweep_and_show_its_results(django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    from tests.factories import client_for

    user, task, robot, version = _setup()
    client = client_for(user)  # type: ignore[arg-type]
    url = f"/tasks/{task.pk}/sweeps/new/"  # type: ignore[attr-defined]
    page = client.get(url)
    assert page.status_code == 200 and b"light_intensity" in page.content  # the cell's factors are listed
    form = {
        "name": "grid",
        "policy_version": version.pk,  # type: ignore[attr-defined]
        "robot": robot.pk,  # type: ignore[attr-defined]
        "design": "grid",
        "factors": "light_intensity: 0.4, 1\nactuation_delay: 0, 2",
        "episodes_per_condition": 4,
        "seed": 0,
    }
    bad = client.post(url, {**form, "factors": "light_intensity: 7"})
    assert bad.status_code == 200 and b"factors.light_intensity" in bad.content and not Sweep.objects.exists()
    with django_capture_on_commit_callbacks():
        done = client.post(url, form)
    sweep = Sweep.objects.get()
    assert done.status_code == 302 and done["Location"] == f"/sweeps/{sweep.pk}/"
    by_label = {t.sweep_label: t for t in sweep.conditions.all()}
    _outcomes(by_label["nominal"], "ssss")
    _outcomes(by_label["light_intensity=0.4, actuation_delay=2"], "ffsf")
    detail = client.get(f"/sweeps/{sweep.pk}/")
    text = detail.content.decode()
    assert detail.status_code == 200
    assert "Worst condition: light_intensity=0.4, actuation_delay=2, 1/4 successes (25%)" in text
    assert 'id="sweep-charts"' in text and "heatmap" in text
    # No colour bar (its fill gets a style attribute the CSP refuses): each cell labelled, the scale in words.
    (heatmap,) = detail.context["charts"]["sweep-heatmap"]["data"]
    assert heatmap["showscale"] is False and heatmap["texttemplate"] == "%{z:.0%}"
    assert f'href="/trials/{by_label["nominal"].pk}/"' in text
    assert client_for(UserFactory(role=Role.ENGINEER)).get(f"/sweeps/{sweep.pk}/").status_code == 404
    manager = client_for(UserFactory(role=Role.MANAGER, organization=user.organization))  # type: ignore[attr-defined]
    assert manager.get(url).status_code == 403


def test_results_page_reads_a_bounded_number_of_queries(django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    from tests.factories import client_for

    sweep = _schedule(factors={"light_intensity": [0.4, 0.7, 1.5], "actuation_delay": [1, 2]})
    user = sweep.created_by
    for trial in sweep.conditions.all():
        _outcomes(trial, "ssfs")
    client = client_for(user)  # type: ignore[arg-type]
    client.get(f"/sweeps/{sweep.pk}/")  # the cell's factors, once per process
    with django_assert_max_num_queries(8):  # session, user, sweep, conditions, episodes, messages...
        assert client.get(f"/sweeps/{sweep.pk}/").status_code == 200
