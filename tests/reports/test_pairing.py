"""The trial comparison becomes paired when the two trials ran the same scenes (reports.stats.pairing): the
2 x 2 table of pairs equals a hand recount on factory-built trials, lost and missing indexes have no pair,
and unpairable trials say why and fall back to the unpaired comparison."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from core import paired
from reports.stats import selectors
from robots.models import RobotKind
from tests.factories import PolicyVersionFactory, RobotFactory, TaskFactory, TrialFactory, UserFactory, client_for
from tests.reports.test_selectors import add_episodes
from trials.models import Episode, EpisodeOutcome, EpisodeSource

pytestmark = pytest.mark.django_db

# Episode i of A and of B over 40 seeds: 20 both succeed, 10 both fail, 2 only A, 8 only B.
A_OUTCOMES = "s" * 20 + "f" * 10 + "ss" + "f" * 8
B_OUTCOMES = "s" * 20 + "f" * 10 + "ff" + "s" * 8


def _pair_of_trials(**b_overrides):
    task = TaskFactory()
    robot = RobotFactory(organization=task.organization)
    other_robot = RobotFactory(organization=task.organization)  # a second simulated robot, same cell
    a = TrialFactory(task=task, robot=robot, seed=7, policy_version=PolicyVersionFactory())
    fields = {"task": task, "robot": other_robot, "seed": 7, "policy_version": PolicyVersionFactory(), **b_overrides}
    b = TrialFactory(**fields)
    return a, b


def _hand_count(a: str, b: str) -> tuple[int, int, int, int]:
    both = sum(x == "s" and y == "s" for x, y in zip(a, b, strict=True))
    only_a = sum(x == "s" and y != "s" for x, y in zip(a, b, strict=True))
    only_b = sum(x != "s" and y == "s" for x, y in zip(a, b, strict=True))
    return both, only_a, only_b, len(a) - both - only_a - only_b


def test_pairable_trials_give_the_hand_counted_table_mcnemar_and_paired_interval(django_assert_max_num_queries):
    a, b = _pair_of_trials()
    add_episodes(a, A_OUTCOMES)
    add_episodes(b, B_OUTCOMES)
    with django_assert_max_num_queries(2):
        cmp = selectors.trials_compare(trial_a_id=a.pk, trial_b_id=b.pk)
    both, only_a, only_b, neither = _hand_count(A_OUTCOMES, B_OUTCOMES)
    assert (both, only_a, only_b, neither) == (20, 2, 8, 10)
    assert cmp.applies == "paired" and cmp.pairing.pairable and cmp.pairing.reasons == ()
    result = cmp.paired
    assert (result.both, result.only_a, result.only_b, result.neither) == (both, only_a, only_b, neither)
    assert result.n_pairs == 40 and cmp.pairing.n_pairs == 40
    # McNemar exact by hand: 2 x P(X <= 2), X ~ Bin(10, 1/2) = 2 x 56 / 1024.
    assert result.p_value == pytest.approx(2 * 56 / 1024)
    expected = paired.newcombe_paired_interval(paired.PairedTable(both, only_a, only_b, neither))
    assert result.difference_ci == expected
    assert result.difference == pytest.approx((only_b - only_a) / 40)
    # Today's unpaired comparison stays beside it, on every counted episode.
    assert (cmp.success.n_a, cmp.success.successes_a) == (40, 22)
    assert (cmp.success.n_b, cmp.success.successes_b) == (40, 28)
    assert "paired test applies" in cmp.pairing.statement and f"seed {a.seed}" in cmp.pairing.statement
    assert json.loads(json.dumps(cmp.to_dict()))["paired"]["only_b"] == 8


def test_lost_and_missing_indexes_have_no_pair():
    a, b = _pair_of_trials()
    add_episodes(a, "ssff" + "s")  # indexes 0-4
    add_episodes(b, "sfsf")  # indexes 0-3: index 4 of A has no counterpart
    now = timezone.now()
    # Index 5 of B was lost to infrastructure (not counted); A has no index 5 at all.
    Episode.objects.create(
        trial=b, index=5, outcome=EpisodeOutcome.LOST, cycle_time_s=1.0, started_at=now,
        ended_at=now + timedelta(seconds=1), source=EpisodeSource.SIMULATION,
    )  # fmt: skip
    cmp = selectors.trials_compare(trial_a_id=a.pk, trial_b_id=b.pk)
    assert cmp.pairing.n_pairs == 4 and (cmp.pairing.unmatched_a, cmp.pairing.unmatched_b) == (1, 0)
    assert (cmp.paired.both, cmp.paired.only_a, cmp.paired.only_b, cmp.paired.neither) == (1, 1, 1, 1)
    assert "1 episode without a counterpart" in cmp.pairing.statement
    assert cmp.success.n_a == 5 and cmp.success.n_b == 4


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"seed": 8}, "their seeds differ (7 vs 8)"),
        ({"instruction": "something else"}, "their instructions differ"),
        ({"episode_timeout_s": 30.0}, "their episode timeouts differ (60 s vs 30 s)"),
        (
            {"variation": {"light_intensity": 0.4}},
            "their variation factor levels differ (nominal vs light_intensity=0.4)",
        ),
    ],
)
def test_unpairable_trials_say_why_and_fall_back_to_unpaired(overrides, reason):
    a, b = _pair_of_trials(**overrides)
    add_episodes(a, A_OUTCOMES)
    add_episodes(b, B_OUTCOMES)
    cmp = selectors.trials_compare(trial_a_id=a.pk, trial_b_id=b.pk)
    assert cmp.applies == "unpaired" and cmp.paired is None
    assert not cmp.pairing.pairable and reason in cmp.pairing.reasons[0]
    assert cmp.pairing.statement.startswith("The unpaired test applies")
    assert (cmp.success.successes_a, cmp.success.successes_b) == (22, 28)


def test_other_cells_and_physical_robots_are_not_paired():
    a, b = _pair_of_trials()
    b.robot.sim_cell_key = "tabletop-reach-2d"
    b.robot.save(update_fields=["sim_cell_key"])
    add_episodes(a, "sf")
    add_episodes(b, "fs")
    cmp = selectors.trials_compare(trial_a_id=a.pk, trial_b_id=b.pk)
    assert cmp.pairing.reasons == ("they ran different cells (factory-kitting vs tabletop-reach-2d)",)
    physical = RobotFactory(organization=a.task.organization, kind=RobotKind.PHYSICAL, sim_cell_key="")
    c = TrialFactory(task=a.task, robot=physical, seed=7)
    add_episodes(c, "ss", source=EpisodeSource.ROBOT_AGENT)
    cmp = selectors.trials_compare(trial_a_id=a.pk, trial_b_id=c.pk)
    assert cmp.paired is None and "trial B ran on a physical robot" in cmp.pairing.reasons[0]
    only_agent = selectors.trials_compare(trial_a_id=a.pk, trial_b_id=b.pk, source=EpisodeSource.ROBOT_AGENT)
    assert any("only simulated episodes are paired" in r for r in only_agent.pairing.reasons)


def test_pairable_trials_without_a_common_index_fall_back():
    a, b = _pair_of_trials()
    add_episodes(a, "ss")
    add_episodes(b, "ff", start_index=2)
    cmp = selectors.trials_compare(trial_a_id=a.pk, trial_b_id=b.pk)
    assert cmp.paired is None and cmp.pairing.reasons == ("no index was counted in both trials",)
    assert (cmp.pairing.unmatched_a, cmp.pairing.unmatched_b) == (2, 2)


# --- Page and API ----------------------------------------------------------------------------------


def _engineer_of(trial):
    return UserFactory(organization=trial.task.organization, role=Role.ENGINEER)


def test_compare_page_shows_the_pairs_table_mcnemar_and_the_unpaired_result_beside_it():
    a, b = _pair_of_trials()
    add_episodes(a, A_OUTCOMES)
    add_episodes(b, B_OUTCOMES)
    client = client_for(_engineer_of(a))
    html = client.get(reverse("stats-compare"), {"a": a.pk, "b": b.pk}).content.decode()

    def cell(testid: str) -> str:
        return html.split(f'data-testid="{testid}">')[1].split("<")[0]

    assert (cell("pairs-both"), cell("pairs-only-a"), cell("pairs-only-b"), cell("pairs-neither")) == (
        "20", "2", "8", "10",
    )  # fmt: skip
    assert "Paired comparison." in html and "paired test applies" in html
    paired_row = html.split('data-testid="paired-row">')[1].split("</tr>")[0]
    assert "40 pairs" in paired_row and "0.109" in paired_row  # McNemar exact p = 112 / 1024
    unpaired_row = html.split('data-testid="unpaired-row">')[1].split("</tr>")[0]
    assert "(n = 40)" in unpaired_row
    assert "McNemar exact p = 0.109" in html.split('data-testid="paired-verdict">')[1].split("</p>")[0]
    assert "Unpaired, for reference" in html


def test_compare_page_of_unpairable_trials_says_why():
    a, b = _pair_of_trials(seed=99)
    add_episodes(a, "ssf")
    add_episodes(b, "sff")
    html = client_for(_engineer_of(a)).get(reverse("stats-compare"), {"a": a.pk, "b": b.pk}).content.decode()
    assert "Unpaired comparison." in html and "their seeds differ (7 vs 99)" in html
    assert 'data-testid="pairs-table"' not in html and 'data-testid="paired-row"' not in html


def test_compare_api_gives_the_paired_result_and_the_pairing_reasons():
    a, b = _pair_of_trials()
    add_episodes(a, A_OUTCOMES)
    add_episodes(b, B_OUTCOMES)
    client = client_for(_engineer_of(a))
    body = client.get(reverse("api-trials-compare"), {"a": a.pk, "b": b.pk}).json()
    assert body["applies"] == "paired" and body["pairing"]["pairable"] is True
    assert [body["paired"][k] for k in ("both", "only_a", "only_b", "neither")] == [20, 2, 8, 10]
    assert body["paired"]["p_value"] == pytest.approx(112 / 1024)
    assert body["paired"]["unpaired"]["n_a"] == 40 and body["success"]["n_a"] == 40
    c = TrialFactory(task=a.task, robot=a.robot, seed=1)
    add_episodes(c, "ss")
    refused = client.get(reverse("api-trials-compare"), {"a": a.pk, "b": c.pk}).json()
    assert refused["applies"] == "unpaired" and refused["paired"] is None
    assert refused["pairing"]["reasons"] == ["their seeds differ (7 vs 1), so episode i ran a different scene in each"]


def test_trials_under_the_same_factor_levels_are_paired():
    a, b = _pair_of_trials(variation={"light_intensity": 0.4, "actuation_delay": 2.0})
    a.variation = {"actuation_delay": 2.0, "light_intensity": 0.4}  # same levels, other key order
    a.save(update_fields=["variation"])
    add_episodes(a, A_OUTCOMES)
    add_episodes(b, B_OUTCOMES)
    cmp = selectors.trials_compare(trial_a_id=a.pk, trial_b_id=b.pk)
    assert cmp.applies == "paired" and cmp.pairing.n_pairs == 40
