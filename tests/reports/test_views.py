"""Reports pages: the manager dashboard, the task ROI report (print, PDF), the cost-model form and the CSV
exports; who may read and edit what, validation messages, and query-count guards."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts.models import Organization, Role
from reports.models import CostModel
from tests.factories import (
    CostModelFactory,
    EpisodeEventFactory,
    OrganizationFactory,
    RobotFactory,
    TaskFactory,
    TrialFactory,
    UserFactory,
    client_for,
    episodes_make,
)
from trials.models import EventKind

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache() -> Any:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def world() -> dict[str, Any]:
    """Manufacturer A (engineer, manager; a task with a cost model and 40 simulated episodes, a task with
    neither), integrator B engaged on A's first task with its own rig's trial, and organization C."""
    org_a = OrganizationFactory(name="Nordwerk")
    org_b = OrganizationFactory(name="CellWorks", kind=Organization.Kind.INTEGRATOR)
    org_c = OrganizationFactory(name="Elsewhere")
    task = TaskFactory(
        organization=org_a,
        integrator=org_b,
        name="Kitting brackets",
        annual_volume=200_000,
        labour_cost_per_hour=Decimal("42.00"),
    )
    bare = TaskFactory(organization=org_a, name="Deburring housings")
    CostModelFactory(task=task, input_notes={"robot_capex": "Vendor quote Q-1182"})
    trial = TrialFactory(task=task, robot=RobotFactory(organization=org_a))
    episodes = episodes_make(trial, 40, successes=36)
    EpisodeEventFactory(episode=episodes[3], kind=EventKind.INTERVENTION)
    task_c = TaskFactory(organization=org_c, name="C's secret task")
    CostModelFactory(task=task_c)
    episodes_make(TrialFactory(task=task_c, robot=RobotFactory(organization=org_c)), 5, successes=5)
    return {
        "task": task,
        "bare": bare,
        "trial": trial,
        "task_c": task_c,
        "engineer": UserFactory(organization=org_a, role=Role.ENGINEER),
        "manager": UserFactory(organization=org_a, role=Role.MANAGER),
        "integrator": UserFactory(organization=org_b, role=Role.INTEGRATOR),
        "outsider": UserFactory(organization=org_c, role=Role.ENGINEER),
    }


def _roi_url(task: Any, name: str = "report-roi") -> str:
    return reverse(name, args=[task.pk])


# --- Dashboard ------------------------------------------------------------------------------------


def test_dashboard_requires_login(world: dict[str, Any]) -> None:
    response = Client().get(reverse("report-index"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_manager_reads_the_dashboard_with_roi_bands_and_messages(world: dict[str, Any]) -> None:
    response = client_for(world["manager"]).get(reverse("report-index"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Kitting brackets" in html and "Deburring housings" in html
    assert "C&#x27;s secret task" not in html and "secret task" not in html
    assert "No base cost model yet." in html  # the bare task: a message, not a crash
    assert _roi_url(world["task"]) in html  # click-through
    assert "10,000 draws, seed 0" in html  # the report's Monte Carlo
    assert 'id="roi-charts"' in html and 'id="dashboard-chart"' in html
    row = response.context["table"][0]["row"]
    assert row.task_id == world["task"].pk  # ranked: the task with a result first
    assert row.episodes == 40 and row.evidence_sources == ("simulation",)
    mc = row.monte_carlo
    assert mc.draws == 10_000 and mc.npv.p10 <= mc.npv.p50 <= mc.npv.p90
    assert response.context["table"][0]["light"] in {"green", "amber", "red"}


def _bulk_task(org: Any, name: str, *, successes: int, n: int, capex: str, volume: int = 200_000) -> Any:
    task = TaskFactory(organization=org, name=name, annual_volume=volume, labour_cost_per_hour=Decimal("42.00"))
    CostModelFactory(task=task, robot_capex=Decimal(capex), input_ranges={"robot_capex": [0, float(capex) * 2]})
    episodes_make(TrialFactory(task=task, robot=RobotFactory(organization=org)), n, successes=successes)
    return task


def test_dashboard_chart_is_drawn_from_exactly_the_tables_rows(world: dict[str, Any]) -> None:
    # Issue 13 item 1: a skewed task (a wide capex range) whose Monte Carlo median and mean disagree in sign
    # must still be plotted at the figure its row shows, in the row's colour and order.
    org = world["task"].organization
    _bulk_task(org, "Skewed", successes=30, n=40, capex="60000")
    _bulk_task(org, "Cheap", successes=38, n=40, capex="20000")
    response = client_for(world["manager"]).get(reverse("report-index"))
    table = [t["row"] for t in response.context["table"] if t["row"].roi is not None]
    trace = response.context["charts"]["dashboard-chart"]["data"][0]
    yaxis = response.context["charts"]["dashboard-chart"]["layout"]["yaxis"]
    assert trace["x"] == [r.roi.npv for r in table]
    assert [c[0] for c in trace["customdata"]] == [r.task_id for r in table]
    assert yaxis["ticktext"] == [r.task_name for r in table] and yaxis["tickvals"] == trace["y"]
    assert len(set(trace["y"])) == len(table)
    colours = trace["marker"]["color"]
    html = response.content.decode()
    for row, colour, x in zip(table, colours, trace["x"], strict=True):
        shown = re.search(
            rf'<tr data-task="{row.task_id}">.*?data-testid="npv"><strong class="(\w+)">([^<]+)<', html, re.S
        )
        assert shown is not None
        currency, amount = shown.group(2).split("\u00a0")
        assert currency == row.currency
        assert float(amount.replace(",", "").replace("\u2212", "-")) == pytest.approx(x, abs=0.5)
        assert (shown.group(1) == "neg") == (colour == "#b42318") == (x < 0)
        mc = row.monte_carlo
        i = trace["x"].index(x)
        assert x - trace["error_x"]["arrayminus"][i] == pytest.approx(min(mc.npv.p10, x))
        assert x + trace["error_x"]["array"][i] == pytest.approx(max(mc.npv.p90, x))


def test_report_and_dashboard_show_one_npv_payback_and_light_per_task(world: dict[str, Any]) -> None:
    # Issue 13 item 2: the same figures on both pages for one scenario.
    client = client_for(world["manager"])
    item = next(t for t in client.get(reverse("report-index")).context["table"] if t["row"].task_id == world["task"].pk)
    report = client.get(_roi_url(world["task"]))
    assert report.context["report"].roi == item["row"].roi
    assert report.context["report"].monte_carlo == item["row"].monte_carlo
    assert report.context["light"] == item["light"]
    assert f'data-light="{item["light"]}"' in report.content.decode()


def test_dashboard_counts_trials_by_status_and_explains_the_lights(world: dict[str, Any]) -> None:
    from trials.models import TrialStatus

    task = world["task"]
    task.trials.update(status=TrialStatus.COMPLETED)
    TrialFactory(task=task, robot=RobotFactory(organization=task.organization), status=TrialStatus.COMPLETED)
    TrialFactory(task=task, robot=RobotFactory(organization=task.organization), status=TrialStatus.CANCELLED)
    html = client_for(world["manager"]).get(reverse("report-index")).content.decode()
    cell = re.search(rf'<tr data-task="{task.pk}">.*?data-testid="trial-counts">(.*?)</td>', html, re.S)
    assert cell is not None
    words = re.sub(r"<[^>]+>", " ", cell.group(1)).split()
    assert words == ["2", "completed", "1", "cancelled"]
    legend = re.search(r'data-testid="light-legend">(.*?)</div>', html, re.S).group(1)  # type: ignore[union-attr]
    assert "10%" in legend and "50%" in legend and "target" in legend


def test_report_says_in_words_when_nothing_pays_back(world: dict[str, Any]) -> None:
    # Issue 13 item 4: no empty histogram, no blank heat map.
    org = world["task"].organization
    hopeless = TaskFactory(organization=org, name="Hopeless", annual_volume=2_000, labour_cost_per_hour=Decimal("20"))
    CostModelFactory(task=hopeless, robot_capex=Decimal("400000"))
    episodes_make(TrialFactory(task=hopeless, robot=RobotFactory(organization=org)), 20, successes=10)
    response = client_for(world["manager"]).get(_roi_url(hopeless))
    report = response.context["report"]
    assert report.monte_carlo.p_never_pays_back == 1.0
    assert "payback-histogram" not in response.context["charts"]
    assert "heatmap-chart" not in response.context["charts"]
    html = response.content.decode()
    assert html.count('data-testid="chart-note"') == 2
    assert "None of the 10,000 Monte Carlo draws pays back" in html
    assert "the payback map is empty" in html
    assert response.context["light"] == "red"
    dashboard = client_for(world["manager"]).get(reverse("report-index"))
    assert next(t["light"] for t in dashboard.context["table"] if t["row"].task_id == hopeless.pk) == "red"


def test_heat_map_marks_cells_beyond_the_horizon(world: dict[str, Any]) -> None:
    from core.roi import Heatmap
    from reports.roi.charts import heatmap_figure

    grid = Heatmap(
        utilisation=(0.5, 0.9),
        labour_cost_per_hour=(30.0, 50.0),
        payback_months=((float("inf"), 40.0), (float("inf"), 20.0)),
        npv=((-1.0, 1.0), (-1.0, 2.0)),
    )
    figure = heatmap_figure(heatmap=grid, target_months=24.0, horizon_months=60)
    assert figure is not None
    never = next(t for t in figure["data"] if t["name"] == "never")
    assert never["text"] == [["never", ""], ["never", ""]]
    assert "not within 60 months" in figure["layout"]["title"]["text"]
    # Neither a colour bar nor gapless cells: plotly gives both a style attribute the CSP refuses.
    assert all(t["showscale"] is False and t["xgap"] == t["ygap"] == 1 for t in figure["data"])
    assert figure["layout"]["annotations"][0]["text"] == "Colour: green 0, amber 24 (the target), red 48+ months"
    blank = Heatmap(utilisation=(0.5,), labour_cost_per_hour=(30.0,), payback_months=((float("inf"),),), npv=((-1.0,),))
    assert heatmap_figure(heatmap=blank, target_months=24.0, horizon_months=60) is None


def test_integrator_dashboard_shows_no_customer_roi(world: dict[str, Any]) -> None:
    # Engaged on "Kitting brackets", but its NPV and payback are the customer's commercial terms.
    response = client_for(world["integrator"]).get(reverse("report-index"))
    assert response.context["table"] == []
    assert "Kitting brackets" not in response.content.decode()


@pytest.mark.parametrize(
    ("role", "commercial"), [("engineer", True), ("manager", True), ("integrator", False), ("outsider", None)]
)
def test_roi_page_per_role_evidence_for_all_who_may_read_terms_only_for_the_owner(
    world: dict[str, Any], role: str, commercial: bool | None
) -> None:
    client = client_for(world[role])
    response = client.get(_roi_url(world["task"]))
    if commercial is None:  # another organization
        assert response.status_code == 404
        assert client.get(_roi_url(world["task"], "report-roi-print")).status_code == 404
        return
    assert response.status_code == 200
    html = response.content.decode()
    # Everyone who may read the task sees the evidence that exists: the customer's 40 episodes.
    assert "40 episodes" in html and "No episodes recorded yet" not in html
    secrets = ("Vendor quote Q-1182", "NPV", 'id="assumptions"', "roi-charts", "42.00")
    if commercial:
        assert all(secret in html for secret in secrets[:4])
    else:
        assert not [secret for secret in secrets if secret in html]
        assert response.context["commercial"] is False
        for name in ("report-roi-print", "report-roi-pdf"):
            assert client.get(_roi_url(world["task"], name)).status_code == 403
    task_page = client.get(reverse("task-detail", args=[world["task"].pk])).content.decode()
    assert ("Loaded labour cost" in task_page) is commercial
    task_list = client.get(reverse("task-list")).content.decode()
    assert ("42.00" in task_list) is commercial


def test_dashboard_queries_do_not_grow_with_tasks_or_episodes(
    world: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    client = client_for(world["manager"])
    client.get(reverse("report-index"))  # warm the session and content-type caches
    org = world["task"].organization
    for n in range(6):
        task = TaskFactory(organization=org, name=f"Extra {n}")
        CostModelFactory(task=task)
        episodes_make(TrialFactory(task=task, robot=RobotFactory(organization=org)), 12, successes=10)
    # session, user and the nav (4) + the dashboard's seven reads, whatever the number of tasks
    with django_assert_max_num_queries(11):
        response = client.get(reverse("report-index"))
    assert len([t for t in response.context["table"] if t["row"].monte_carlo is not None]) == 7


def test_dashboard_ranks_by_payback_on_request(world: dict[str, Any]) -> None:
    org = world["task"].organization
    slow = TaskFactory(organization=org, name="Slow payer", annual_volume=30_000)
    CostModelFactory(task=slow, robot_capex=Decimal("150000"))
    episodes_make(TrialFactory(task=slow, robot=RobotFactory(organization=org)), 20, successes=12)
    response = client_for(world["manager"]).get(reverse("report-index"), {"order": "payback"})
    paybacks = [t["row"].monte_carlo.payback_months.p50 for t in response.context["table"] if t["row"].monte_carlo]
    finite = [p for p in paybacks if p is not None]
    assert finite == sorted(finite) and len(paybacks) == 2


# --- Task report ------------------------------------------------------------------------------------


def test_task_report_shows_figures_evidence_and_every_chart(world: dict[str, Any]) -> None:
    response = client_for(world["manager"]).get(_roi_url(world["task"]))
    assert response.status_code == 200
    html = response.content.decode()
    for label in (
        "Robots needed",
        "FTE freed",
        "Annual net saving",
        "Discounted payback",
        "NPV",
        "IRR",
        "Cost per good part",
        "P(payback ≤ target)",
        "P(NPV &lt; 0)",
    ):
        assert label in html, label
    assert "Evidence: simulation, 40 episodes (36 successful, 1 interventions)" in html
    assert set(response.context["charts"]) == {
        "cash-flow-chart",
        "payback-histogram",
        "npv-histogram",
        "tornado-chart",
        "heatmap-chart",
    }
    assert "Vendor quote Q-1182" in html  # the source note of an input
    report = response.context["report"]
    assert report.monte_carlo.draws == 10_000
    assert "Edit base costs" not in html  # managers read


def test_report_without_cost_model_or_episodes_gives_a_message(world: dict[str, Any]) -> None:
    client = client_for(world["engineer"])
    response = client.get(_roi_url(world["bare"]))
    assert response.status_code == 200
    assert "No base cost model for this task yet" in response.content.decode()
    CostModelFactory(task=world["bare"])
    response = client.get(_roi_url(world["bare"]))
    assert "No episodes recorded yet" in response.content.decode()
    response = client.get(_roi_url(world["task"]), {"scenario": "optimistic"})
    assert "No optimistic cost model for this task yet" in response.content.decode()


def test_other_organization_gets_404_for_report_print_pdf_and_costs(world: dict[str, Any]) -> None:
    client = client_for(world["outsider"])
    task = world["task"]
    for name in ("report-roi", "report-roi-print", "report-roi-pdf", "report-costs"):
        assert client.get(_roi_url(task, name)).status_code == 404, name


def test_print_version_is_one_self_contained_page(world: dict[str, Any]) -> None:
    response = client_for(world["manager"]).get(_roi_url(world["task"], "report-roi-print"))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="print-page"' in html and "topbar" not in html
    assert 'id="cash-flow-chart"' in html and "plotly-cartesian.min.js" in html


def test_pdf_download_is_a_real_pdf(world: dict[str, Any]) -> None:
    response = client_for(world["manager"]).get(_roi_url(world["task"], "report-roi-pdf"))
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    assert response.content.startswith(b"%PDF-")
    assert len(response.content) > 20_000  # text and the drawn charts, not an empty page
    assert len(re.findall(rb"/Type\s*/Page[^s]", response.content)) == 1  # one page for the finance director


# --- Cost model form ----------------------------------------------------------------------------------


def _cost_post(**overrides: Any) -> dict[str, Any]:
    data = {
        "robot_capex": "40000",
        "tooling_capex": "5000",
        "vision_capex": "3000",
        "safety_capex": "6000",
        "integration_cost": "18000",
        "fat_sat_cost": "4000",
        "training_cost": "2000",
        "annual_maintenance": "1200",
        "annual_software": "2400",
        "annual_consumables": "500",
        "energy_kw": "0.6",
        "energy_hours_per_year": "",
        "energy_price_per_kwh": "0.22",
        "recovery_time_s": "45",
        "labour_rate_override_per_hour": "",
        "utilisation": "0.85",
        "ramp_up_months": "3",
        "discount_rate": "0.08",
        "horizon_years": "5",
        "salvage_value": "4000",
        "payback_target_months": "24",
        "range_distribution": "pert",
        "low_robot_capex": "36000",
        "high_robot_capex": "52000",
        "low_labour_cost_per_hour": "38",
        "high_labour_cost_per_hour": "48",
        "note_robot_capex": "Quote KR-6 2026-10",
        "note_recovery_time_s": "Timed on line 2",
    }
    data.update(overrides)
    return data


def test_engineer_saves_a_scenario_with_ranges_and_notes(world: dict[str, Any]) -> None:
    client = client_for(world["engineer"])
    url = _roi_url(world["task"], "report-costs") + "?scenario=conservative"
    page = client.get(url)
    assert page.status_code == 200
    assert page.context["form"].initial["robot_capex"] == Decimal("35000")  # a new scenario starts from base
    response = client.post(url, _cost_post())
    assert response.status_code == 302
    assert response["Location"].endswith(_roi_url(world["task"]) + "?scenario=conservative")
    saved = CostModel.objects.get(task=world["task"], scenario="conservative")
    assert saved.robot_capex == Decimal("40000")
    assert saved.input_ranges == {"robot_capex": [36000.0, 52000.0], "labour_cost_per_hour": [38.0, 48.0]}
    assert saved.input_notes == {"robot_capex": "Quote KR-6 2026-10", "recovery_time_s": "Timed on line 2"}
    report = client.get(_roi_url(world["task"]), {"scenario": "conservative"})
    assert report.context["report"].roi.capex > 0 and "Quote KR-6 2026-10" in report.content.decode()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"robot_capex": "-5"}, "robot_capex", "greater than or equal to 0"),
        ({"utilisation": "1.4"}, "utilisation", "less than or equal to 1"),
        ({"horizon_years": "0"}, "horizon_years", "greater than or equal to 1"),
        ({"high_robot_capex": ""}, "high_robot_capex", "Give both low and high"),
        ({"low_robot_capex": "41000"}, "low_robot_capex", "must contain the value 40000"),
        ({"low_robot_capex": "60000", "high_robot_capex": "50000"}, "high_robot_capex", "must not be below low"),
        ({"high_utilisation": "1.2", "low_utilisation": "0.5"}, "high_utilisation", "At most 1"),
        ({"low_labour_cost_per_hour": "43"}, "low_labour_cost_per_hour", "must contain the value 42"),
        ({"robot_capex": "lots"}, "robot_capex", "Enter a number"),
    ],
)
def test_cost_form_rejects_bad_input_with_a_field_message(
    world: dict[str, Any], overrides: dict[str, str], field: str, message: str
) -> None:
    client = client_for(world["engineer"])
    url = _roi_url(world["task"], "report-costs")
    response = client.post(url, _cost_post(**overrides))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and any(message in e for e in errors[field]), errors
    assert CostModel.objects.get(task=world["task"], scenario="base").robot_capex == Decimal("35000")


def test_manager_and_integrator_cannot_edit_costs(world: dict[str, Any]) -> None:
    url = _roi_url(world["task"], "report-costs")
    assert client_for(world["manager"]).get(url).status_code == 403
    assert client_for(world["manager"]).post(url, _cost_post()).status_code == 403
    integrator = client_for(world["integrator"])
    assert integrator.get(_roi_url(world["task"])).status_code == 200  # engaged: reads the evidence
    assert integrator.post(url, _cost_post()).status_code == 403
    assert CostModel.objects.get(task=world["task"], scenario="base").robot_capex == Decimal("35000")


def test_engineer_of_another_organization_cannot_reach_the_form(world: dict[str, Any]) -> None:
    url = _roi_url(world["task"], "report-costs")
    assert client_for(world["outsider"]).post(url, _cost_post()).status_code == 404


def test_task_page_links_to_its_roi_report(world: dict[str, Any]) -> None:
    html = client_for(world["manager"]).get(reverse("task-detail", args=[world["task"].pk])).content.decode()
    assert _roi_url(world["task"]) in html
