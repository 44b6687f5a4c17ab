"""A sweep through the real runner (trial_start, chunk_run, the reach cell and an ONNX policy): each
condition's levels reach every episode's reset, so a condition's episode differs from nominal at the same
seed, and the same condition repeats itself episode for episode; an instruction phrasing level reaches
the policy as the rephrased text (the factory cell and its reference policy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from accounts.models import Role
from core.policy import onnx_runtime
from core.recording.trajectory import trajectory_read
from core.sim import cell_make
from core.sim.cells.factory_kitting import UNSEEN_PHRASINGS
from core.sim.episode import cell_reset
from policies.services import reference_policy_version_ensure
from tests.factories import RobotFactory, TaskFactory, UserFactory
from tests.trials.runner_support import FAST_CELL, reach_policy_version
from trials import queue, runner
from trials.models import Episode, MediaKind, Sweep, TrialChunk, TrialStatus
from trials.sweep_services import sweep_schedule

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.TRIAL_CHUNK_EPISODES = 10
    onnx_runtime.cache_clear()
    monkeypatch.setattr(queue, "chunks_enqueue", lambda *, chunk_ids: None)


def _run_sweep(django_capture_on_commit_callbacks, *, factors: dict[str, list[float]], version=None) -> Sweep:
    user = UserFactory(role=Role.ENGINEER)
    task = TaskFactory(organization=user.organization, instruction="put the part in the tray")
    robot = RobotFactory(organization=user.organization, sim_cell_key=FAST_CELL)
    sweep = sweep_schedule(
        task=task, policy_version=version or reach_policy_version(), robot=robot, name="noise",
        design="one_at_a_time", factors=factors, episodes_per_condition=3, seed=40, created_by=user,
        start_runner=False,
    )  # fmt: skip
    for trial in sweep.conditions.all():
        with django_capture_on_commit_callbacks(execute=True):
            runner.trial_start(trial_id=trial.pk)
        for chunk in TrialChunk.objects.filter(trial=trial):
            runner.chunk_run(chunk_id=chunk.pk)
    return sweep


def _states(sweep: Sweep) -> dict[str, list[np.ndarray]]:
    """Each condition's episodes' recorded states, by index."""
    out: dict[str, list[np.ndarray]] = {}
    for trial in sweep.conditions.order_by("pk"):
        assert trial.status == TrialStatus.COMPLETED, trial.status_message
        episodes = Episode.objects.filter(trial=trial).order_by("index").prefetch_related("media")
        out[trial.sweep_label] = [
            trajectory_read(Path(next(m for m in e.media.all() if m.kind == MediaKind.TRAJECTORY).file.path)).state
            for e in episodes
        ]
    return out


def test_a_condition_runs_its_levels_differs_from_nominal_and_repeats_per_seed(
    django_capture_on_commit_callbacks,
) -> None:
    version = reach_policy_version()
    factors = {"action_noise": [0.2], "light_intensity": [0.4]}
    first = _states(_run_sweep(django_capture_on_commit_callbacks, factors=factors, version=version))
    again = _states(_run_sweep(django_capture_on_commit_callbacks, factors=factors, version=version))
    assert list(first) == ["nominal", "action_noise=0.2", "light_intensity=0.4"]
    for label in ("action_noise=0.2", "light_intensity=0.4"):
        for i in range(3):
            # Same seed, other level: the episode took another path (the noise moves the arm, the dimmer
            # light changes what the policy sees and so what it does).
            n = min(len(first["nominal"][i]), len(first[label][i]))
            assert not np.allclose(first["nominal"][i][:n], first[label][i][:n]), (label, i)
    for label, episodes in first.items():
        for i, states in enumerate(episodes):
            np.testing.assert_array_equal(states, again[label][i])  # the same condition repeats exactly


def test_an_instruction_phrasing_level_reaches_the_policy_through_the_runner(
    django_capture_on_commit_callbacks,
) -> None:
    # The reference ONNX policy reads the instruction (hashed n-grams into its encoder), so what it was
    # told shows in its actions: each recorded episode's first action is the policy's answer to that
    # seed's rephrased instruction, not to the trial's own words.
    user = UserFactory(role=Role.ENGINEER)
    task = TaskFactory(organization=user.organization, instruction="place the bracket in the tray")
    robot = RobotFactory(organization=user.organization, sim_cell_key="factory-kitting")
    version = reference_policy_version_ensure(cell_key="factory-kitting")
    sweep = sweep_schedule(
        task=task, policy_version=version, robot=robot, name="phrasing", design="one_at_a_time",
        factors={"instruction_set": ["paraphrase"]}, episodes_per_condition=2, seed=40, created_by=user,
        episode_timeout_s=1.0, start_runner=False,
    )  # fmt: skip
    trial = sweep.conditions.get(sweep_label="instruction_set=paraphrase")
    with django_capture_on_commit_callbacks(execute=True):
        runner.trial_start(trial_id=trial.pk)
    for chunk in TrialChunk.objects.filter(trial=trial):
        runner.chunk_run(chunk_id=chunk.pk)
    trial.refresh_from_db()
    assert trial.status == TrialStatus.COMPLETED, trial.status_message

    policy, cell = runner.policy_for(version), cell_make("factory-kitting")
    phrasings = {p.format(part="bracket") for p in UNSEEN_PHRASINGS}
    episodes = list(Episode.objects.filter(trial=trial).order_by("index").prefetch_related("media"))
    assert [e.index for e in episodes] == [0, 1]
    for episode in episodes:
        recorded = trajectory_read(
            Path(next(m for m in episode.media.all() if m.kind == MediaKind.TRAJECTORY).file.path)
        )
        obs = cell_reset(
            cell, seed=trial.seed + episode.index, instruction=trial.instruction, variation=trial.variation
        )
        assert obs.instruction in phrasings  # the cell rephrased it, naming the same part
        rephrased = policy.episode(instruction=obs.instruction).act(obs)
        as_given = policy.episode(instruction=trial.instruction).act(obs)
        assert not np.allclose(rephrased, as_given, atol=1e-4)  # the policy can tell the two apart
        np.testing.assert_allclose(recorded.action[0], rephrased, atol=1e-5)
