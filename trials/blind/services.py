"""Writes of blind A/B comparisons: schedule (two sealed arm trials, their agent jobs in the sealed order),
the operator's preference per pair, cancel, and unblinding once both arms have finished."""

from __future__ import annotations

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.permissions import acts_for_organization
from core import blind
from policies.models import PolicyVersion
from robots.models import Robot, RobotKind
from trials.models import (
    MAX_EPISODES_PER_TRIAL,
    BlindComparison,
    BlindPreference,
    Episode,
    Task,
    Trial,
)
from trials.services import TrialRuleError, trial_cancel, trial_schedule

DIGEST_CHUNK_BYTES = 1 << 20


class BlindConflict(Exception):
    """The request does not fit the comparison's state (pair not yet run, comparison unblinded)."""


def _version_check(version: PolicyVersion, *, field: str) -> None:
    # A remote endpoint's URL (and its config) would tell the agent which version runs: only artifacts,
    # served through a job-scoped URL under a neutral name, can be blinded.
    if version.kind != "onnx" or not version.artifact:
        raise TrialRuleError(
            "a blind comparison runs ONNX artifacts (a remote endpoint's URL would name the version to the agent)",
            field=field,
        )


def _salted_digest(version: PolicyVersion, salt: str) -> str:
    """sha256 of salt + the artifact's bytes: the agent checks its download with it, and it matches no
    checksum a page shows."""
    digest = hashlib.sha256(bytes.fromhex(salt))
    with version.artifact.open("rb") as handle:
        while chunk := handle.read(DIGEST_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def blind_comparison_schedule(
    *,
    task: Task,
    version_a: PolicyVersion,
    version_b: PolicyVersion,
    robot: Robot,
    pairs: int,
    created_by: User | None,
    seed: int = 0,
    instruction: str = "",
    episode_timeout_s: float = 60.0,
) -> BlindComparison:
    """Schedule a blind A/B of two ONNX versions on a physical robot of the caller's organization: one
    trial per version (an arm, created in arm order so trial ids follow the neutral arm names), `pairs`
    episodes each on seeds seed + i, and one agent job per episode in the sealed order (core.blind).
    Returns the comparison. Raises TrialRuleError naming the field."""
    if robot.kind != RobotKind.PHYSICAL:
        raise TrialRuleError("a blind comparison runs on a physical robot (its agent takes the jobs)", field="robot")
    if created_by is not None and not acts_for_organization(created_by, robot.organization_id):
        raise TrialRuleError("you can only schedule trials on your organization's robots", field="robot")
    if version_a.pk == version_b.pk:
        raise TrialRuleError("compare two different versions", field="version_b")
    if not 1 <= pairs <= MAX_EPISODES_PER_TRIAL:
        raise TrialRuleError(f"pairs must be between 1 and {MAX_EPISODES_PER_TRIAL}", field="pairs")
    _version_check(version_a, field="version_a")
    _version_check(version_b, field="version_b")
    order_seed = secrets.randbits(63)
    order = blind.blind_order(pairs=pairs, seed=order_seed)
    arm_of = {"A": blind.blind_arm_of_a(seed=order_seed)}
    arm_of["B"] = blind.other_arm(arm_of["A"])
    versions = {"A": version_a, "B": version_b}
    digests = {}
    for name, version in versions.items():
        salt = secrets.token_hex(16)
        digests[arm_of[name]] = {"salt": salt, "sha256": _salted_digest(version, salt)}
    with transaction.atomic():
        comparison = BlindComparison.objects.create(
            task=task,
            robot=robot,
            version_a=version_a,
            version_b=version_b,
            pairs=pairs,
            order_seed=order_seed,
            order=list(order),
            arm_digests=digests,
            created_by=created_by,
        )
        for arm in blind.ARMS:
            name = "A" if arm_of["A"] == arm else "B"
            trial_schedule(
                task=task,
                policy_version=versions[name],
                robot=robot,
                episodes_planned=pairs,
                scheduled_by=created_by,
                seed=seed,
                instruction=instruction,
                episode_timeout_s=episode_timeout_s,
                # The worker's start (trials.runner) makes the agent jobs of both arms in the sealed order.
                start_runner=True,
                blind=comparison,
                blind_arm=arm,
            )
    return comparison


@transaction.atomic
def blind_comparison_unblind_if_finished(*, comparison_id: int) -> BlindComparison:
    """Unblind the comparison once both arm trials have finished (completed, failed or cancelled).
    Returns the comparison, unblinded or not."""
    comparison = BlindComparison.objects.select_for_update().get(pk=comparison_id)
    if comparison.unblinded_at is not None:
        return comparison
    statuses = set(Trial.objects.filter(blind=comparison).values_list("status", flat=True))
    if statuses and statuses <= set(Trial.FINISHED_STATUSES):
        comparison.unblinded_at = timezone.now()
        comparison.save(update_fields=["unblinded_at"])
    return comparison


def blind_trial_finished(*, trial_id: int) -> None:
    """Called when an agent job of a trial is done: unblinds the trial's comparison if both arms ended."""
    comparison_id = Trial.objects.filter(pk=trial_id).values_list("blind_id", flat=True).first()
    if comparison_id is not None:
        blind_comparison_unblind_if_finished(comparison_id=comparison_id)


def blind_comparison_cancel(*, comparison: BlindComparison, reason: str = "cancelled by user") -> BlindComparison:
    """Cancel both arms (their remaining jobs are not run) and unblind. Returns the comparison."""
    with transaction.atomic():
        for trial_id in Trial.objects.filter(blind=comparison).values_list("pk", flat=True):
            trial_cancel(trial_id=trial_id, reason=reason)
    return blind_comparison_unblind_if_finished(comparison_id=comparison.pk)


def _pair_recorded(comparison: BlindComparison, pair: int) -> bool:
    counted = Episode.objects.counted().filter(trial__blind=comparison, index=pair)
    return counted.count() == 2


@transaction.atomic
def blind_preference_record(
    *, comparison: BlindComparison, pair: int, preferred: str, robot: Robot | None, operator: str = ""
) -> BlindPreference:
    """The operator's preference over pair `pair`: `preferred` is the episode as the operator saw it run
    ("first", "second") or "tie", mapped here to the version through the sealed order. A later preference
    for the same pair replaces the earlier. Returns the preference. Raises TrialRuleError naming the field,
    BlindConflict when the pair has not run both episodes yet or the comparison is unblinded."""
    locked = BlindComparison.objects.select_for_update().get(pk=comparison.pk)
    if not 0 <= pair < locked.pairs:
        raise TrialRuleError(f"pairs are numbered 0..{locked.pairs - 1}", field="pair")
    if preferred not in (*blind.POSITIONS, "tie"):
        raise TrialRuleError("the preferred episode is 'first', 'second' or 'tie'", field="preferred")
    if locked.unblinded_at is not None:
        raise BlindConflict("the comparison is unblinded: preferences are closed")
    if not _pair_recorded(locked, pair):
        raise BlindConflict(f"pair {pair} has not recorded both episodes yet")
    choice = preferred if preferred == "tie" else blind.version_at(order=locked.order, pair=pair, position=preferred)
    preference, _ = BlindPreference.objects.update_or_create(
        comparison=locked,
        pair=pair,
        defaults={"choice": choice, "operator": operator, "robot": robot, "recorded_at": timezone.now()},
    )
    return preference
