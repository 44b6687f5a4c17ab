"""The trial evidence of a task's ROI: counts, sums and cycle times of its recorded episodes, in a fixed
number of queries whatever their number. Counts, sums and intervention counts come from the per-trial,
per-source running totals (trials.models.TrialSourceSummary, kept by episodes_record); cycle times are
streamed as one column where the bootstrap needs them.

Simulation and real episodes are never mixed. By default the ROI rests on real episodes (robot agent and
integrator upload) when the task has any, else on simulation; pass `source` to choose. Interventions are
events of kind "intervention" (as in reports.stats.selectors); the robot's running time is the sum of its
episodes' cycle times; aborted episodes count as failures (no part was made).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from django.db.models import QuerySet
from scipy.stats import norm

from accounts.models import User
from core.montecarlo import TrialEvidence
from core.roi import RoiInputError
from reports.sources import REAL_SOURCES
from trials.models import Episode, EpisodeSource, Task, Trial
from trials.selectors import SummaryTotals, trial_list_for_user, trial_source_summaries


def _task_trials(*, task: Task, user: User | None, policy_version_id: int | None) -> QuerySet[Trial]:
    trials: QuerySet[Trial] = trial_list_for_user(user=user) if user is not None else Trial.objects.all()
    trials = trials.filter(task=task)
    if policy_version_id is not None:
        trials = trials.filter(policy_version_id=policy_version_id)
    return trials


SUMMARY_FIELDS = (
    "trial_id",
    "source",
    "episodes",
    "successes",
    "cycle_time_sum_s",
    "cycle_time_sq_sum_s2",
    "interventions",
    "lost",
    "reviewed",
    "revision",
)


def totals_by_source(rows: list[dict[str, Any]]) -> dict[str, SummaryTotals]:
    """{source: totals} over summary rows (values() dicts of SUMMARY_FIELDS). Summed in (trial, source)
    order, so the report page and the dashboard add the same floats in the same order: identical figures."""
    out: dict[str, SummaryTotals] = {}
    for row in sorted(rows, key=lambda r: (r["trial_id"], r["source"])):
        if row["episodes"]:
            out.setdefault(row["source"], SummaryTotals()).add(SummaryTotals.from_row(row))
    return out


def chosen_totals(by_source: dict[str, SummaryTotals], chosen: tuple[str, ...]) -> SummaryTotals:
    total = SummaryTotals()
    for source in chosen:
        if source in by_source:
            total.add(by_source[source])
    return total


# Up to this many episodes of evidence the ROI (report, dashboard, API) bootstraps the recorded cycle times;
# above it, the stand-in of cycle_time_sample.
EXACT_CYCLE_TIMES = 2_000


@functools.cache
def _standard_normal_quantiles(k: int) -> np.ndarray:
    """k evenly spaced standard normal quantiles, standardised to mean 0 and deviation 1 (read-only: shared
    by every large task of a dashboard load, computed once per process)."""
    z = norm.ppf((np.arange(k) + 0.5) / k)
    z = (z - z.mean()) / z.std()
    z.flags.writeable = False
    return z


def cycle_time_sample(*, n: int, mean_s: float, sum_sq: float) -> tuple[float, ...]:
    """A stand-in for the cycle times of a task with more than EXACT_CYCLE_TIMES episodes: k evenly
    spaced normal quantiles with the recorded mean, scaled so their bootstrap mean spreads by s / sqrt(n).

    Why: core.montecarlo bootstraps the *mean* cycle time, and past 2,000 episodes it already rescales
    m-out-of-n resamples to the n-episode spread (s / sqrt(n)); for such n the sampling distribution of the
    mean is normal to within the bootstrap's own noise (central limit theorem). The mean, the spread and n
    come from one database aggregate, so the dashboard never streams a million cycle times.
    """
    k = EXACT_CYCLE_TIMES
    variance = max(sum_sq / n - mean_s * mean_s, 0.0)
    values = mean_s + np.sqrt(variance) * np.sqrt(k / n) * _standard_normal_quantiles(k)
    return tuple(np.maximum(values, 0.0).tolist())


def evidence_from_totals(*, total: SummaryTotals, cycle_times_s: tuple[float, ...]) -> TrialEvidence:
    """The evidence of the chosen episodes' running totals and their cycle times (or their stand-in): the
    robot's running time is the sum of its cycle times. Raises RoiInputError like TrialEvidence."""
    return TrialEvidence(
        successes=total.successes,
        failures=total.episodes - total.successes,
        interventions=total.interventions,
        autonomous_hours=total.cycle_time_sum_s / 3600,
        cycle_times_s=cycle_times_s,
        reviewed=total.reviewed,
    )


def task_trial_evidence(
    *,
    task: Task,
    source: str | None = None,
    user: User | None = None,
    policy_version_id: int | None = None,
) -> tuple[TrialEvidence, tuple[str, ...]]:
    """(evidence, sources used) from the task's recorded episodes, in two queries: the trials' summary rows
    (counts, sums, interventions per trial and source) and the chosen episodes' cycle times (up to
    EXACT_CYCLE_TIMES episodes; past it the normal stand-in of cycle_time_sample, as on the dashboard).

    `source`: one EpisodeSource value, "real" (robot agent + integrator upload), or None for real when any
    real episode exists else simulation. `user` scopes to the trials the user may read.
    Raises RoiInputError when there are no episodes or no successful one (see TrialEvidence).
    """
    trials = _task_trials(task=task, user=user, policy_version_id=policy_version_id)
    by_source = totals_by_source(list(trial_source_summaries(trials=trials).values(*SUMMARY_FIELDS)))
    if source is None:
        chosen = chosen_sources(set(by_source))
    elif source == "real":
        chosen = REAL_SOURCES
    elif source in EpisodeSource.values:
        chosen = (source,)
    else:
        raise RoiInputError(
            f"Unknown evidence source {source!r}: use simulation, robot_agent, integrator_upload or real."
        )
    total = chosen_totals(by_source, chosen)
    if total.episodes == 0:
        label = " or ".join(EpisodeSource(s).label.lower() for s in chosen)
        raise RoiInputError(f"No episodes recorded yet ({label}): run a trial of this task before computing its ROI.")
    if total.episodes <= EXACT_CYCLE_TIMES:
        chosen_episodes = Episode.objects.counted().filter(trial__in=trials.order_by().values("pk"), source__in=chosen)
        # Ordered as the dashboard reads them: the bootstrap resamples by position.
        sample = tuple(chosen_episodes.order_by("trial_id", "index").values_list("cycle_time_s", flat=True))
    else:
        # The dashboard's stand-in, so the report and the dashboard draw the same cycle times: one figure
        # per task and scenario wherever it is shown (issue 13).
        sample = cycle_time_sample(
            n=total.episodes, mean_s=total.cycle_time_sum_s / total.episodes, sum_sq=total.cycle_time_sq_sum_s2
        )
    return evidence_from_totals(total=total, cycle_times_s=sample), tuple(s for s in chosen if s in by_source)


def chosen_sources(present: set[str]) -> tuple[str, ...]:
    """Real episodes when there are any, else simulation: the same rule as task_trial_evidence."""
    return tuple(s for s in REAL_SOURCES if s in present) or (EpisodeSource.SIMULATION.value,)
