"""Reads of the episode review: an episode's audit trail, the review queue (the episodes most worth a
person's look, each with why) and the episodes a review page lists."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import (
    Count,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    prefetch_related_objects,
)
from django.db.models.functions import Coalesce

from trials.models import (
    Episode,
    EpisodeEvent,
    EpisodeMedia,
    EpisodeOutcome,
    EpisodeReview,
    EventKind,
    MediaKind,
    ReviewState,
    Trial,
)

# A success this close to the episode's time limit may be the detector firing at the buzzer.
NEAR_TIMEOUT_SHARE = 0.90
QUEUE_LIMIT = 50
# Detector/reviewer disagreements read per task to find look-alikes; the patterns are few, the rows bounded.
DISAGREEMENTS_READ = 500


def episode_review_history(*, episode: Episode) -> QuerySet[EpisodeReview]:
    """The episode's reviews, oldest first, with the reviewer: who, when, before, after, why. One query."""
    return EpisodeReview.objects.filter(episode=episode).select_related("reviewer").order_by("created_at", "pk")


def _faults(**filters: object) -> QuerySet[EpisodeEvent]:
    return EpisodeEvent.objects.filter(episode_id=OuterRef("pk"), kind=EventKind.FAULT, **filters)


def _media_prefetch() -> Prefetch:
    # Posters and videos only: a review looks, it does not need the trajectory or manifest.
    shown = EpisodeMedia.objects.filter(kind__in=[MediaKind.POSTER, MediaKind.VIDEO]).order_by("kind", "name")
    return Prefetch("media", queryset=shown)


def _episodes_annotated(*, trial: Trial) -> QuerySet[Episode]:
    """The trial's counted episodes (a lost attempt is not reviewed) by index, annotated with `fault_count`
    and `first_fault` (category of the earliest fault, None without one)."""
    fault_count = _faults().order_by().values("episode_id").annotate(n=Count("pk")).values("n")
    first_fault = _faults().order_by("t_offset_s", "pk").values("category")[:1]
    return (
        Episode.objects.counted()
        .filter(trial=trial)
        .annotate(
            fault_count=Coalesce(Subquery(fault_count, output_field=IntegerField()), Value(0)),
            first_fault=Subquery(first_fault),
        )
        .order_by("index")
    )


def episodes_for_review(*, trial: Trial) -> QuerySet[Episode]:
    """_episodes_annotated with each episode's posters and videos prefetched, for the review page."""
    return _episodes_annotated(trial=trial).prefetch_related(_media_prefetch())


@dataclass(frozen=True)
class Pattern:
    """What a detector/reviewer disagreement looked like: the reported outcome, the first fault's category
    and the stage reached."""

    outcome: str
    first_fault: str | None
    stage_reached: int | None

    def describe(self) -> str:
        fault = f"first fault {self.first_fault}" if self.first_fault else "no fault"
        stage = f"stage {self.stage_reached}" if self.stage_reached is not None else "stage not reported"
        return f"reported {self.outcome}, {fault}, {stage}"


@dataclass
class QueueItem:
    episode: Episode
    reasons: list[str] = field(default_factory=list)
    following: int | None = None  # the index listed after this one (where the page goes after a review)

    @property
    def poster(self) -> EpisodeMedia | None:
        """The poster frame (from the prefetched media), None without one."""
        return next((m for m in self.episode.media.all() if m.kind == MediaKind.POSTER), None)

    @property
    def videos(self) -> list[EpisodeMedia]:
        """The camera videos, by camera name (from the prefetched media)."""
        return [m for m in self.episode.media.all() if m.kind == MediaKind.VIDEO]


def _disagreement_patterns(*, trial: Trial) -> dict[Pattern, int]:
    """{pattern: overridden episodes} over the task's trials (the same cell and detector). One query."""
    first_fault = _faults().order_by("t_offset_s", "pk").values("category")[:1]
    rows = (
        Episode.objects.filter(trial__task_id=trial.task_id, review_state=ReviewState.OVERRIDDEN)
        .annotate(first_fault=Subquery(first_fault))
        .order_by("-reviewed_at", "-pk")
        .values_list("detected_outcome", "first_fault", "stage_reached")[:DISAGREEMENTS_READ]
    )
    patterns: dict[Pattern, int] = {}
    for outcome, fault, stage in rows:
        key = Pattern(outcome, fault, stage)
        patterns[key] = patterns.get(key, 0) + 1
    return patterns


def _pattern_q(pattern: Pattern) -> Q:
    q = Q(outcome=pattern.outcome)
    q &= Q(first_fault__isnull=True) if pattern.first_fault is None else Q(first_fault=pattern.first_fault)
    q &= Q(stage_reached__isnull=True) if pattern.stage_reached is None else Q(stage_reached=pattern.stage_reached)
    return q


def review_queue(*, trial: Trial, limit: int = QUEUE_LIMIT) -> list[QueueItem]:
    """The trial's episodes most worth a review, each with its reasons, unreviewed first, at most `limit`:
    - successes near the time limit (cycle time >= 90 % of the trial's episode timeout),
    - successes with fault events,
    - failures without any fault event (what stopped them?),
    - unreviewed episodes like those a reviewer overrode before in this task (same reported outcome, first
      fault category and stage reached).
    Then more reasons first, then index. Three queries (patterns, episodes, their media)."""
    patterns = _disagreement_patterns(trial=trial)
    near_s = NEAR_TIMEOUT_SHARE * trial.episode_timeout_s
    success, failure = EpisodeOutcome.SUCCESS, EpisodeOutcome.FAILURE
    wanted = (
        Q(outcome=success, cycle_time_s__gte=near_s)
        | Q(outcome=success, fault_count__gt=0)
        | Q(outcome=failure, fault_count=0)
    )
    for pattern in patterns:
        wanted |= _pattern_q(pattern) & Q(review_state=ReviewState.UNREVIEWED)
    items: list[QueueItem] = []
    for episode in _episodes_annotated(trial=trial).filter(wanted):
        item = QueueItem(episode)
        faults: int = episode.fault_count  # type: ignore[attr-defined]
        if episode.outcome == success and episode.cycle_time_s >= near_s:
            item.reasons.append(
                f"success near the time limit ({episode.cycle_time_s:.1f} s of {trial.episode_timeout_s:.0f} s)"
            )
        if episode.outcome == success and faults:
            item.reasons.append(f"success with {faults} fault event{'s' if faults != 1 else ''}")
        if episode.outcome == failure and not faults:
            item.reasons.append("failure with no fault event")
        if episode.review_state == ReviewState.UNREVIEWED:
            key = Pattern(episode.outcome, episode.first_fault, episode.stage_reached)  # type: ignore[attr-defined]
            if key in patterns:
                n = patterns[key]
                item.reasons.append(
                    f"like {n} episode{'s' if n != 1 else ''} of this task a reviewer overrode ({key.describe()})"
                )
        if item.reasons:
            items.append(item)
    items.sort(key=lambda i: (i.episode.review_state != ReviewState.UNREVIEWED, -len(i.reasons), i.episode.index))
    chosen = items[:limit]
    # Media only for the episodes shown, not for every candidate of a 10,000-episode trial.
    prefetch_related_objects([i.episode for i in chosen], _media_prefetch())
    return _chained(chosen)


def episodes_unreviewed(*, trial: Trial, limit: int = QUEUE_LIMIT) -> list[QueueItem]:
    """The trial's first `limit` unreviewed counted episodes by index, as queue items without reasons."""
    unreviewed = episodes_for_review(trial=trial).filter(review_state=ReviewState.UNREVIEWED)[:limit]
    return _chained([QueueItem(e) for e in unreviewed])


def _chained(items: list[QueueItem]) -> list[QueueItem]:
    for item, after in zip(items, items[1:], strict=False):
        item.following = after.episode.index
    return items
