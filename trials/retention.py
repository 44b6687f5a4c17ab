"""Which episode recordings are kept, and the cleanup that removes the rest (`manage.py media_cleanup`).

A trial's policy is its own `media_retention`, else its organization's (Trial.retention):
- keep_all: every recording stays;
- failures_first_n: the recordings of every episode that is not a success (failures, aborted and lost
  attempts: the evidence a buyer asks for) and of the first N successes by index stay;
- keep_none: no recording stays.
Only files and their EpisodeMedia rows go: the episodes, their events and every figure stay. The outcome
used is the one every figure counts (the reviewed one where reviewed), so a success overridden to a
failure keeps its video.

Orphans, files under the recordings' folder that no row names (a crash between storing a file and its
row, a replaced file whose delete failed), are removed once older than an hour: younger ones may be an
upload whose row is being written."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.files.storage import Storage
from django.db import models
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.models import MediaRetention
from trials.media import episode_media_delete
from trials.models import Episode, EpisodeMedia, EpisodeOutcome, Trial

MEDIA_ROOT_FOLDER = "trials"  # trials.models.episode_media_path puts every recording under it
ORPHAN_MIN_AGE = timedelta(hours=1)


@dataclass(frozen=True)
class RemovedFile:
    """A file removed (or, in a dry run, that would be)."""

    name: str
    size_bytes: int
    trial_id: int | None = None  # None for an orphan
    index: int | None = None
    reason: str = ""


@dataclass
class CleanupReport:
    removed: list[RemovedFile] = field(default_factory=list)
    dry_run: bool = False

    @property
    def bytes_freed(self) -> int:
        return sum(f.size_bytes for f in self.removed)


def episodes_not_kept(
    *, policy: str, keep_successes: int, episodes: Sequence[tuple[int, int, str]]
) -> set[int]:  # fmt: skip
    """Ids of the episodes whose recordings the policy does not keep, from (id, index, outcome) rows.
    The first N successes are by index (ties, i.e. lost attempts sharing an index, by id)."""
    if policy == MediaRetention.KEEP_NONE:
        return {pk for pk, _, _ in episodes}
    if policy != MediaRetention.FAILURES_AND_FIRST_SUCCESSES:
        return set()
    successes = sorted((index, pk) for pk, index, outcome in episodes if outcome == EpisodeOutcome.SUCCESS)
    return {pk for _, pk in successes[max(0, keep_successes) :]}


def trial_media_cleanup(*, trial: Trial, dry_run: bool = False) -> list[RemovedFile]:
    """Remove the recordings of `trial`'s episodes that its retention policy does not keep. Returns the
    files removed (in a dry run: that would be, nothing changed)."""
    policy, keep = trial.retention
    if policy == MediaRetention.KEEP_ALL:
        return []
    with_media = Episode.objects.filter(trial=trial).filter(Exists(EpisodeMedia.objects.filter(episode=OuterRef("pk"))))
    # Every episode takes part in "the first N successes", with media or not: a success whose files are
    # already gone still counts as one of the N.
    rows = list(Episode.objects.filter(trial=trial).values_list("pk", "index", "outcome"))
    dropped = episodes_not_kept(policy=policy, keep_successes=keep, episodes=rows) & set(
        with_media.values_list("pk", flat=True)
    )
    removed: list[RemovedFile] = []
    media_rows = (
        EpisodeMedia.objects.filter(episode_id__in=dropped).select_related("episode").order_by("episode__index")
    )
    for media in media_rows:
        removed.append(
            RemovedFile(
                name=str(media.file.name),
                size_bytes=int(media.size_bytes),
                trial_id=trial.pk,
                index=media.episode.index,
                reason=f"{media.episode.outcome} episode, policy {policy}",
            )
        )
        if not dry_run:
            episode_media_delete(media=media)
    return removed


def _recordings_storage() -> Storage:
    """The storage EpisodeMedia files are in (STORAGES["episode_media"], resolved when the model loaded)."""
    field = EpisodeMedia._meta.get_field("file")
    if not isinstance(field, models.FileField):
        raise TypeError("EpisodeMedia.file is not a FileField")
    return field.storage


def storage_walk(storage: Storage, folder: str) -> Iterator[str]:
    """Every file name under `folder` of the storage (depth first)."""
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        yield posixpath.join(folder, name)
    for sub in folders:
        yield from storage_walk(storage, posixpath.join(folder, sub))


def orphan_media_sweep(*, min_age: timedelta = ORPHAN_MIN_AGE, dry_run: bool = False) -> list[RemovedFile]:
    """Remove files under the recordings' folder that no EpisodeMedia row names and that are older than
    `min_age`. Returns them (in a dry run: that would be removed)."""
    storage = _recordings_storage()
    known = set(EpisodeMedia.objects.values_list("file", flat=True))
    cutoff = timezone.now() - min_age
    removed: list[RemovedFile] = []
    for name in storage_walk(storage, MEDIA_ROOT_FOLDER):
        if name in known or storage.get_modified_time(name) > cutoff:
            continue
        removed.append(RemovedFile(name=name, size_bytes=int(storage.size(name)), reason="orphan: no row names it"))
        if not dry_run:
            storage.delete(name)
    return removed


def media_cleanup(
    *, dry_run: bool = False, trial_ids: Sequence[int] | None = None, orphans: bool = True
) -> CleanupReport:
    """Apply every trial's retention policy (or only `trial_ids`'), then sweep orphans. Returns the report."""
    report = CleanupReport(dry_run=dry_run)
    trials = Trial.objects.select_related("robot__organization").filter(
        Exists(EpisodeMedia.objects.filter(episode__trial=OuterRef("pk")))
    )
    if trial_ids is not None:
        trials = trials.filter(pk__in=trial_ids)
    for trial in trials.order_by("pk"):
        report.removed.extend(trial_media_cleanup(trial=trial, dry_run=dry_run))
    if orphans:
        report.removed.extend(orphan_media_sweep(dry_run=dry_run))
    return report
