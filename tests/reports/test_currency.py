"""Every money figure says its currency: the organization's ISO 4217 code on the ROI page, the one-page
report, the dashboard, the cost-model form, the task page, chart axes and the API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.models import DEFAULT_CURRENCY, Role, currency_choices
from reports.templatetags.report_format import money
from tests.api.conftest import token_client
from tests.factories import (
    CostModelFactory,
    OrganizationFactory,
    RobotFactory,
    TaskFactory,
    TrialFactory,
    UserFactory,
    client_for,
    episodes_make,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> dict[str, Any]:
    cache.clear()
    org = OrganizationFactory(currency="CHF")
    task = TaskFactory(organization=org, name="Kitting", labour_cost_per_hour=Decimal("61.00"))
    CostModelFactory(task=task, input_ranges={"robot_capex": [30000, 45000]})
    episodes_make(TrialFactory(task=task, robot=RobotFactory(organization=org)), 30, successes=27)
    return {
        "task": task,
        "engineer": UserFactory(organization=org, role=Role.ENGINEER),
        "manager": UserFactory(organization=org, role=Role.MANAGER),
    }


def test_currency_is_validated_against_iso_4217_with_a_default() -> None:
    codes = {code for code, _ in currency_choices()}
    assert {"EUR", "USD", "CHF", "JPY", "GBP"} <= codes
    assert "DEM" not in codes  # the Deutsche Mark is history, not a currency to price a cell in
    org = OrganizationFactory()
    assert org.currency == DEFAULT_CURRENCY == "EUR"
    org.currency = "XYZ"
    with pytest.raises(ValidationError) as error:
        org.full_clean()
    assert "currency" in error.value.message_dict


def test_money_filter_names_the_currency() -> None:
    assert money(-23549.4, "EUR") == "EUR\u00a0−23,549"
    assert money(None, "EUR") == "—"
    assert money(1000) == "1,000"


def test_roi_page_and_one_pager_show_the_currency_on_money_and_axes(world: dict[str, Any]) -> None:
    client = client_for(world["manager"])
    for name in ("report-roi", "report-roi-print"):
        response = client.get(reverse(name, args=[world["task"].pk]))
        assert response.status_code == 200
        html = response.content.decode()
        npv = money(response.context["report"].roi.npv, "CHF")
        assert npv in html
        assert "CHF\u00a0" + money(response.context["report"].roi.capex) in html
        charts = response.context["charts"]
        titles = [fig["layout"]["xaxis"]["title"]["text"] for fig in charts.values() if "xaxis" in fig["layout"]]
        assert any(t == "NPV, CHF" for t in titles), titles
        assert "CHF" in charts["cash-flow-chart"]["layout"]["yaxis"]["title"]["text"]
        assert "EUR" not in html


def test_dashboard_cost_form_and_task_page_show_the_currency(world: dict[str, Any]) -> None:
    response = client_for(world["manager"]).get(reverse("report-index"))
    row = response.context["table"][0]["row"]
    assert row.currency == "CHF"
    assert money(row.roi.npv, "CHF") in response.content.decode()  # the base case, as the report shows it
    assert response.context["charts"]["dashboard-chart"]["layout"]["xaxis"]["title"]["text"].endswith(", CHF")
    form = client_for(world["engineer"]).get(reverse("report-costs", args=[world["task"].pk])).content.decode()
    assert "CHF per cell" in form and "Money in CHF" in form
    page = client_for(world["manager"]).get(reverse("task-detail", args=[world["task"].pk])).content.decode()
    assert "CHF 61.00 / h" in page


def test_api_returns_and_documents_the_currency(world: dict[str, Any]) -> None:
    client = token_client(world["manager"])
    roi = client.get(f"/api/v1/tasks/{world['task'].pk}/roi/", {"draws": 200})
    assert roi.status_code == 200 and roi.json()["currency"] == "CHF"
    task = client.get(f"/api/v1/tasks/{world['task'].pk}/").json()
    assert task["currency"] == "CHF" and task["labour_cost_per_hour"] == "61.00"
    schema = client.get("/api/v1/schema/").content.decode()
    assert "ISO 4217" in schema and "in `currency`" in schema
