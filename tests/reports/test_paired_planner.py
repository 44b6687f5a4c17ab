"""The paired planner: on the schedule form's planner, on the compare page (started from the measured
rates and discordance) and in the API; figures equal core.paired.paired_plan, bad input is a 400 naming the
field, and anonymous callers are refused."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from core import paired
from tests.factories import TaskFactory, UserFactory, client_for
from tests.reports.test_pairing import A_OUTCOMES, B_OUTCOMES, _pair_of_trials, add_episodes

pytestmark = pytest.mark.django_db


@pytest.fixture
def engineer():
    return UserFactory(organization=TaskFactory().organization, role=Role.ENGINEER)


def _answer(html: str, testid: str) -> str:
    return html.split(f'data-testid="{testid}">')[1].split("</p>")[0]


def test_paired_planner_answers_with_connor_pairs_beside_the_unpaired_size(engineer):
    client = client_for(engineer)
    url = reverse("stats-paired-planner")
    query = {"rate_a": "0.6", "rate_b": "0.75", "discordance": "0.2", "power": "0.8"}
    response = client.get(url, query, HTTP_HX_TARGET="paired-plan-result")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith("<div") and 'id="paired-plan-result"' in html  # only the answer swaps
    answer = _answer(html, "paired-plan-answer")
    assert "<strong>68 seeds</strong>" in answer and "(136 episodes)" in answer and "152 episodes per version" in answer
    # Blank discordance: the independence value is assumed and said.
    cautious = client.get(url, {**query, "discordance": ""}, HTTP_HX_TARGET="paired-plan-result").content.decode()
    expected = paired.paired_plan(rate_a=0.6, rate_b=0.75).pairs_needed
    assert f"<strong>{expected} seeds</strong>" in cautious and "assumed" in cautious


@pytest.mark.parametrize(
    ("query", "field", "text"),
    [
        ({"rate_a": "1.5", "rate_b": "0.7", "power": "0.8"}, "rate_a", "between 0.0001 and 0.9999"),
        ({"rate_a": "0.7", "rate_b": "0.7", "power": "0.8"}, "rate_b", "must differ"),
        ({"rate_a": "0.6", "rate_b": "0.8", "discordance": "0.05", "power": "0.8"}, "discordance", "between"),
        ({"rate_a": "0.6", "rate_b": "x", "power": "0.8"}, "rate_b", "number"),
    ],
)
def test_paired_planner_bad_input_is_a_400_naming_the_field(engineer, query, field, text):
    response = client_for(engineer).get(reverse("stats-paired-planner"), query, HTTP_HX_TARGET="paired-plan-result")
    assert response.status_code == 400
    html = response.content.decode()
    assert f'data-testid="paired-plan-error-{field}"' in html and text in html.lower()


def test_paired_planner_needs_a_signed_in_user():
    response = Client().get(reverse("stats-paired-planner"), {"rate_a": "0.6", "rate_b": "0.7"})
    assert response.status_code == 302 and "login" in response["Location"]
    assert Client().get(reverse("api-plan-paired"), {"rate_a": "0.6", "rate_b": "0.7"}).status_code in (401, 403)


def test_schedule_planner_fragment_carries_the_paired_planner(engineer):
    task = TaskFactory(organization=engineer.organization)
    html = client_for(engineer).get(reverse("stats-planner", args=[task.pk])).content.decode()
    assert 'data-testid="paired-planner"' in html and 'data-testid="paired-plan-answer"' in html


def test_compare_page_starts_the_paired_planner_from_the_measured_figures():
    a, b = _pair_of_trials()
    add_episodes(a, A_OUTCOMES)
    add_episodes(b, B_OUTCOMES)
    user = UserFactory(organization=a.task.organization, role=Role.ENGINEER)
    html = client_for(user).get(reverse("stats-compare"), {"a": a.pk, "b": b.pk}).content.decode()
    # 22/40 vs 28/40 with 10 of 40 seeds decided differently.
    assert 'name="rate_a" value="0.55"' in html and 'name="rate_b" value="0.7"' in html
    assert 'name="discordance" value="0.25"' in html
    expected = paired.paired_plan(rate_a=0.55, rate_b=0.7, discordance=0.25)
    assert f"<strong>{expected.pairs_needed} seeds</strong>" in _answer(html, "paired-plan-answer")


def test_paired_plan_api(engineer):
    client = client_for(engineer)
    url = reverse("api-plan-paired")
    body = client.get(url, {"rate_a": 0.6, "rate_b": 0.75, "discordance": 0.2}).json()
    assert (body["pairs_needed"], body["paired_episodes"], body["unpaired_per_version"]) == (68, 136, 152)
    assert body["power"] == 0.8 and body["alpha"] == 0.05
    bad = client.get(url, {"rate_a": 0.6, "rate_b": 0.8, "discordance": 0.05})
    assert bad.status_code == 400 and "between" in bad.json()["errors"]["discordance"][0]
    same = client.get(url, {"rate_a": 0.6, "rate_b": 0.6})
    assert same.status_code == 400 and same.json()["errors"]["rate_b"] == ["Must differ from rate_a."]
    schema = client.get(reverse("api-schema"), HTTP_ACCEPT="application/json").json()["paths"]
    params = {p["name"] for p in schema["/api/v1/plan/paired/"]["get"]["parameters"]}
    assert {"rate_a", "rate_b", "discordance", "power", "alpha"} <= params


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"rate_a": "nan", "rate_b": 0.7}, "rate_a"),
        ({"rate_a": 0.6, "rate_b": 0.7, "power": "nan"}, "power"),
        ({"rate_a": 0.6, "rate_b": 0.7, "discordance": "nan"}, "discordance"),
        ({"rate_a": 0.6000001, "rate_b": 0.6000002}, "rate_b"),  # beyond 10 million seeds
        ({"rate_b": 0.7}, "rate_a"),
        # Given empty, a number is missing: not silently the default (DRF reads a query like an HTML form).
        ({"rate_a": 0.6, "rate_b": 0.7, "alpha": ""}, "alpha"),
        ({"rate_a": 0.6, "rate_b": 0.7, "power": ""}, "power"),
    ],
)
def test_paired_plan_api_refuses_bad_values_with_a_400_naming_the_field(engineer, query, field):
    response = client_for(engineer).get(reverse("api-plan-paired"), query)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


def test_compare_page_planner_starts_without_an_error_when_rounding_would_break_the_table():
    # 1/3 vs 2/3 with every seed discordant the other way round: rounded rates 0.3333 and 0.6667 differ by
    # 0.3334, more than the rounded share 0.3333 of discordant seeds would allow.
    a, b = _pair_of_trials()
    add_episodes(a, "sff")
    add_episodes(b, "ssf")
    user = UserFactory(organization=a.task.organization, role=Role.ENGINEER)
    html = client_for(user).get(reverse("stats-compare"), {"a": a.pk, "b": b.pk}).content.decode()
    assert 'data-testid="paired-plan-error' not in html and 'data-testid="paired-plan-answer"' in html
