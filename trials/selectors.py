"""Reads for trials, and who may see what.

Visibility rules (one place, used by pages and API alike):
- superusers see everything;
- a task is visible to its owner organization and to the integrator organization engaged on it;
- trials: the task owner and the integrator engaged on the task see every trial of it (the evidence: an
  integrator judging a customer's cell needs the customer's trials too); anyone sees trials run on its own
  robots; only the robot's organization writes to a trial (trial_list_writable_by_user);
- commercial terms (labour cost, cost models, ROI, NPV, supplier notes) only to the task's own
  organization: task_commercial_visible / task_list_commercial_for_user, never to the engaged integrator;
- robots: only the owner organization's.
Another organization's object is simply absent from these querysets, so views and API answer 404.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from accounts.models import User
from core.stats import wilson_interval
from trials.media import OVERVIEW_CAMERA
from trials.models import (
    COUNTED_OUTCOMES,
    Episode,
    EpisodeEvent,
    EpisodeMedia,
    EpisodeOutcome,
    EventKind,
    MediaKind,
    ReviewState,
    Task,
    Trial,
    TrialSourceSummary,
)


def _sees_everything(user: User) -> bool:
    return bool(user.is_superuser)


def task_list_for_user(*, user: User) -> QuerySet[Task]:
    """Tasks the user may read, with `trial_count`."""
    tasks = Task.objects.select_related("site", "organization", "integrator").annotate(trial_count=Count("trials"))
    if _sees_everything(user):
        return tasks
    return tasks.visible_to_organization(user.organization_id)


def task_list_commercial_for_user(*, user: User) -> QuerySet[Task]:
    """The visible tasks whose commercial terms (labour cost, cost models, ROI) the user may read: its own
    organization's; an engaged integrator reads the task and its evidence, not the customer's terms."""
    tasks = task_list_for_user(user=user)
    if _sees_everything(user):
        return tasks
    if user.organization_id is None:  # only superusers have none (a database constraint)
        return tasks.none()
    return tasks.filter(organization_id=user.organization_id)


def task_commercial_visible(*, user: User, task: Task) -> bool:
    """True when `user` may read the commercial terms of `task` (see task_list_commercial_for_user)."""
    return _sees_everything(user) or (user.organization_id is not None and task.organization_id == user.organization_id)


def _trial_visible(org: int | None, prefix: str = "") -> Q:
    return (
        Q(**{f"{prefix}task__organization_id": org})
        | Q(**{f"{prefix}task__integrator_id": org})
        | Q(**{f"{prefix}robot__organization_id": org})
    )


def trial_list_for_user(*, user: User) -> QuerySet[Trial]:
    """Trials the user may read: of its tasks, of tasks it is engaged on as integrator, on its robots."""
    # A blind comparison's sealed arms are nobody's to read (not even a superuser's) until unblinded.
    trials = Trial.objects.unsealed().select_related("task", "robot", "policy_version__policy")
    if _sees_everything(user):
        return trials
    return trials.filter(_trial_visible(user.organization_id))


def trial_list_writable_by_user(*, user: User) -> QuerySet[Trial]:
    """Trials the user may write to (push episodes, cancel): those on its organization's robots."""
    trials = Trial.objects.unsealed().select_related("task", "robot", "policy_version__policy")
    if _sees_everything(user):
        return trials
    if user.organization_id is None:  # only superusers have none (a database constraint)
        return trials.none()
    return trials.filter(robot__organization_id=user.organization_id)


def trial_progress(*, trial: Trial) -> dict[str, int]:
    """Episodes recorded so far by outcome, in one query: {'done', 'success', 'failure', 'aborted', 'lost'}.
    `done` counts only episodes that are evidence about the policy; `lost` the attempts lost to
    infrastructure (not counted in any figure, shown beside them)."""
    counts = Episode.objects.filter(trial=trial).aggregate(
        done=Count("id", filter=~Q(outcome=EpisodeOutcome.LOST)),
        success=Count("id", filter=Q(outcome=EpisodeOutcome.SUCCESS)),
        failure=Count("id", filter=Q(outcome=EpisodeOutcome.FAILURE)),
        aborted=Count("id", filter=Q(outcome=EpisodeOutcome.ABORTED)),
        lost=Count("id", filter=Q(outcome=EpisodeOutcome.LOST)),
    )
    return {key: int(value or 0) for key, value in counts.items()}


@dataclass
class SummaryTotals:
    """The figures a TrialSourceSummary row holds, for one trial and source."""

    episodes: int = 0
    successes: int = 0
    cycle_time_sum_s: float = 0.0
    cycle_time_sq_sum_s2: float = 0.0
    interventions: int = 0
    lost: int = 0  # attempts lost to infrastructure: in none of the figures above
    reviewed: int = 0  # counted episodes a person has reviewed (their outcome is the reviewed one)

    def as_fields(self) -> dict[str, Any]:
        return asdict(self)

    def add(self, other: SummaryTotals) -> None:
        """Adds other's figures to these, in place."""
        self.episodes += other.episodes
        self.successes += other.successes
        self.cycle_time_sum_s += other.cycle_time_sum_s
        self.cycle_time_sq_sum_s2 += other.cycle_time_sq_sum_s2
        self.interventions += other.interventions
        self.lost += other.lost
        self.reviewed += other.reviewed

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> SummaryTotals:
        """The totals of one TrialSourceSummary values() row."""
        return cls(
            episodes=int(row["episodes"]),
            successes=int(row["successes"]),
            cycle_time_sum_s=float(row["cycle_time_sum_s"]),
            cycle_time_sq_sum_s2=float(row["cycle_time_sq_sum_s2"]),
            interventions=int(row["interventions"]),
            lost=int(row.get("lost", 0)),
            reviewed=int(row.get("reviewed", 0)),
        )


def trial_source_totals(*, trial_ids: list[int]) -> dict[tuple[int, str], SummaryTotals]:
    """{(trial id, source): totals} aggregated afresh from Episode and EpisodeEvent for `trial_ids`, in two
    queries (a full scan of those trials' episodes and events: for rebuilding summaries, not for pages)."""
    out: dict[tuple[int, str], SummaryTotals] = {}
    counted = ~Q(outcome=EpisodeOutcome.LOST)
    for row in (
        Episode.objects.filter(trial_id__in=trial_ids)
        .order_by()
        .values("trial_id", "source")
        .annotate(
            n=Count("id", filter=counted),
            successes=Count("id", filter=Q(outcome=EpisodeOutcome.SUCCESS)),
            running_s=Sum("cycle_time_s", filter=counted),
            sum_sq=Sum(F("cycle_time_s") * F("cycle_time_s"), filter=counted),
            lost=Count("id", filter=~counted),
            reviewed=Count("id", filter=counted & ~Q(review_state=ReviewState.UNREVIEWED)),
        )
    ):
        out[(row["trial_id"], row["source"])] = SummaryTotals(
            episodes=int(row["n"]),
            successes=int(row["successes"]),
            cycle_time_sum_s=float(row["running_s"] or 0.0),
            cycle_time_sq_sum_s2=float(row["sum_sq"] or 0.0),
            lost=int(row["lost"]),
            reviewed=int(row["reviewed"]),
        )
    for event_row in (
        EpisodeEvent.objects.filter(episode__trial_id__in=trial_ids, kind=EventKind.INTERVENTION)
        .exclude(episode__outcome=EpisodeOutcome.LOST)
        .order_by()
        .values("episode__trial_id", "episode__source")
        .annotate(n=Count("id"))
    ):
        out[(event_row["episode__trial_id"], event_row["episode__source"])].interventions = int(event_row["n"])
    return out


def trial_source_summaries(*, trials: QuerySet[Trial]) -> QuerySet[TrialSourceSummary]:
    """The TrialSourceSummary rows (one per trial and evidence source with episodes) of `trials`, with the
    trial's `task_id` as `trial__task_id` in values(); one query, about one row per trial."""
    return TrialSourceSummary.objects.filter(trial__in=trials.order_by().values("pk")).order_by()


# --- Pages (browser UI) -------------------------------------------------------------------------

TASK_ORDERINGS = {
    "fit": (F("fit_score").desc(nulls_last=True), "name"),
    "name": ("name",),
    "newest": ("-created_at", "name"),
    "volume": ("-annual_volume", "name"),
}


def task_search(
    *, tasks: QuerySet[Task], text: str = "", status: str = "", site_id: int | None = None, order: str = "fit"
) -> QuerySet[Task]:
    """Filter a task queryset by free text (name, station, part, instruction), status and site, and
    order it by one of TASK_ORDERINGS (unknown keys fall back to fit). Returns the queryset."""
    if text:
        tasks = tasks.filter(
            Q(name__icontains=text)
            | Q(station__icontains=text)
            | Q(part__icontains=text)
            | Q(instruction__icontains=text)
        )
    if status:
        tasks = tasks.filter(status=status)
    if site_id is not None:
        tasks = tasks.filter(site_id=site_id)
    return tasks.order_by(*TASK_ORDERINGS.get(order, TASK_ORDERINGS["fit"]))


def _count_of(rows: QuerySet[Any], *, by: str) -> Coalesce:
    # A correlated COUNT subquery rather than JOIN + GROUP BY: a paginated page computes it for its
    # own rows only, and count() drops it, so a trial of 10,000 episodes costs no more than one of 10.
    counted = rows.filter(**{by: OuterRef("pk")}).order_by().values(by).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def trial_list_with_progress(*, trials: QuerySet[Trial]) -> QuerySet[Trial]:
    """The trials annotated with `episodes_done` and `episodes_success`, in the same query."""
    return trials.annotate(
        episodes_done=_count_of(Episode.objects.counted(), by="trial"),
        episodes_success=_count_of(Episode.objects.filter(outcome=EpisodeOutcome.SUCCESS), by="trial"),
    )


def trial_summary(*, trial: Trial) -> dict[str, Any]:
    """Live figures of a trial: the trial_progress counts plus `planned`, `percent` (0-100),
    `success_rate` (0-1, None before the first episode) with `success_interval` (Wilson 95%, an
    Interval or None) and `median_cycle_time_s` (None likewise)."""
    progress = trial_progress(trial=trial)
    cycle_times = list(Episode.objects.counted().filter(trial=trial).values_list("cycle_time_s", flat=True))
    done = progress["done"]
    # Every rate shown carries its interval and n (the maths lives in the ORM-free core.stats).
    return {
        **progress,
        "planned": trial.episodes_planned,
        "percent": min(100, int(100 * done / trial.episodes_planned)) if trial.episodes_planned else 0,
        "success_rate": progress["success"] / done if done else None,
        "success_interval": wilson_interval(successes=progress["success"], n=done),
        "median_cycle_time_s": float(np.median(cycle_times)) if cycle_times else None,
    }


@contextmanager
def consistent_read() -> Iterator[None]:
    """Every query inside reads one snapshot of the database, so figures computed by separate queries
    (a page's header, progress bar and statistics panel) agree while episodes keep arriving.
    SQLite gives a read transaction one snapshot already; PostgreSQL needs REPEATABLE READ, which
    must be set before the transaction's first query (hence not inside an outer transaction)."""
    with transaction.atomic():
        if connection.vendor == "postgresql" and len(connection.atomic_blocks) == 1:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


def trial_live(*, trial: Trial) -> dict[str, Any]:
    """What the live part of a trial page shows: `summary` (trial_summary) and, once the trial has
    finished, the cycle-time `chart` data and the first-success and first-failure `videos` (trial_first_videos)
    (re-plotting thousands of points on every poll would be wasted work)."""
    live: dict[str, Any] = {"summary": trial_summary(trial=trial), "chart": None, "videos": []}
    if trial.is_finished:
        live["chart"] = trial_cycle_times(trial=trial)
        live["videos"] = trial_first_videos(trial=trial)
    return live


def trial_cycle_times(*, trial: Trial) -> dict[str, list[float]]:
    """Cycle times (s) of a trial's counted episodes by outcome, for charts: {'success': [...], ...}
    (lost attempts' times are the infrastructure's, not the policy's)."""
    by_outcome: dict[str, list[float]] = {outcome: [] for outcome in COUNTED_OUTCOMES}
    for outcome, cycle_time_s in Episode.objects.counted().filter(trial=trial).values_list("outcome", "cycle_time_s"):
        by_outcome[outcome].append(cycle_time_s)
    return by_outcome


def trial_first_videos(*, trial: Trial) -> list[Episode]:
    """The trial's first success and first failure by index (at most one each, in that order), when that
    episode has a recorded video; annotated with `poster_id` and `video_id` (EpisodeMedia ids, poster None
    without an overview). Two queries. Only the lowest index of each outcome is a candidate: a later
    episode's recording never stands in for the first one's (it may have been removed by retention)."""
    first: dict[str, Episode] = {}
    for episode in (
        _with_recording(
            Episode.objects.filter(trial=trial, outcome__in=[EpisodeOutcome.SUCCESS, EpisodeOutcome.FAILURE])
        )
        .filter(index__in=Subquery(_first_index_of_outcomes(trial)))
        .order_by("index")
    ):
        first.setdefault(episode.outcome, episode)
    return [
        first[o]
        for o in (EpisodeOutcome.SUCCESS, EpisodeOutcome.FAILURE)
        if o in first and getattr(first[o], "video_id", None) is not None
    ]


def _with_recording(episodes: QuerySet[Episode]) -> QuerySet[Episode]:
    """`episodes` annotated with `poster_id` and `video_id` (the first policy camera's video, else the
    overview's), as correlated subqueries: a page of thumbnails costs one query."""
    media = EpisodeMedia.objects.filter(episode_id=OuterRef("pk"))
    video = media.filter(kind=MediaKind.VIDEO).order_by(
        Case(When(name=OVERVIEW_CAMERA, then=Value(1)), default=Value(0)), "name"
    )
    return episodes.annotate(
        poster_id=Subquery(media.filter(kind=MediaKind.POSTER).values("pk")[:1]),
        video_id=Subquery(video.values("pk")[:1]),
    )


def trial_first_indexes(*, trial: Trial) -> dict[int, str]:
    """{index: outcome} of the trial's first success and first failure by index (one query)."""
    rows = (
        Episode.objects.filter(trial=trial, outcome__in=[EpisodeOutcome.SUCCESS, EpisodeOutcome.FAILURE])
        .order_by()
        .values("outcome")
        .annotate(first=Min("index"))
    )
    return {int(row["first"]): str(row["outcome"]) for row in rows}


def _first_index_of_outcomes(trial: Trial) -> QuerySet[Any, Any]:  # a values() subquery of indexes
    return (
        Episode.objects.filter(trial=trial, outcome__in=[EpisodeOutcome.SUCCESS, EpisodeOutcome.FAILURE])
        .order_by()
        .values("outcome")
        .annotate(first=Min("index"))
        .values("first")
    )


def episode_list_for_trial(
    *,
    trial: Trial,
    outcome: str = "",
    has_faults: bool | None = None,
    category: str = "",
    stage_reached: int | None | str = "",
    review_state: str = "",
) -> QuerySet[Episode]:
    """A trial's episodes by index, annotated with `intervention_count`, `fault_count`, `poster_id` and
    `video_id` (None without a recording); optionally only one outcome, only episodes with (True) / without
    (False) faults, only those with an event of `category` (what a failure Pareto bar names), only those
    whose last stage reached is `stage_reached` (a count; None: those that reported no stage; "" any), or
    one `review_state`."""
    episodes = Episode.objects.filter(trial=trial).annotate(
        intervention_count=_count_of(EpisodeEvent.objects.filter(kind=EventKind.INTERVENTION), by="episode"),
        fault_count=_count_of(EpisodeEvent.objects.filter(kind=EventKind.FAULT), by="episode"),
    )
    if outcome:
        episodes = episodes.filter(outcome=outcome)
    if category:
        episodes = episodes.filter(Exists(EpisodeEvent.objects.filter(episode_id=OuterRef("pk"), category=category)))
    if has_faults is True:
        episodes = episodes.filter(fault_count__gt=0)
    elif has_faults is False:
        episodes = episodes.filter(fault_count=0)
    if stage_reached is None:
        episodes = episodes.filter(stage_reached__isnull=True)
    elif isinstance(stage_reached, int):
        episodes = episodes.filter(stage_reached=stage_reached)
    if review_state:
        episodes = episodes.filter(review_state=review_state)
    return _with_recording(episodes).order_by("index")


def episode_at_index(*, trial: Trial, index: int) -> Episode | None:
    """The episode shown at `index`: its counted episode, else its latest lost attempt, else None (an index
    holds one counted episode and any number of lost attempts)."""
    return (
        episode_list_for_trial(trial=trial)
        .filter(index=index)
        .order_by(Case(When(outcome=EpisodeOutcome.LOST, then=Value(1)), default=Value(0)), "-pk")
        .first()
    )


def episode_list_for_user(*, user: User) -> QuerySet[Episode]:
    """Episodes of the trials the user may read, with their events prefetched."""
    episodes = Episode.objects.unsealed().prefetch_related("events")
    if _sees_everything(user):
        return episodes
    return episodes.filter(_trial_visible(user.organization_id, "trial__"))


def event_list_for_user(*, user: User) -> QuerySet[EpisodeEvent]:
    """Events of the episodes the user may read."""
    events = EpisodeEvent.objects.exclude(
        episode__trial__blind__isnull=False, episode__trial__blind__unblinded_at__isnull=True
    ).select_related("episode")
    if _sees_everything(user):
        return events
    return events.filter(_trial_visible(user.organization_id, "episode__trial__"))
