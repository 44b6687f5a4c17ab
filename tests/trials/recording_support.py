"""Real episode recordings for page tests: an expert rollout of a simulated cell with an EpisodeRecorder,
stored onto a factory-made Episode through trials.media (the same path the runner takes), with the
episode's stages and fault events filled in from the rollout."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.recording.recorder import EpisodeRecorder, EpisodeRecording, OverviewSettings
from core.sim import cell_make
from core.sim.episode import RolloutResult, episode_rollout
from core.sim.variation import Level
from tests.factories import EpisodeEventFactory, EpisodeFactory, PolicyVersionFactory, RobotFactory
from trials.media import episode_recording_store
from trials.models import Episode, EpisodeMedia, EpisodeOutcome, EventKind, Sweep, Task, Trial, TrialStatus
from trials.sweep_services import sweep_schedule

FAST_CELL = "tabletop-reach-2d"


def recorded_rollout(
    *, cell_key: str = FAST_CELL, seed: int = 3, folder: Path, overview: OverviewSettings | None = None
) -> RolloutResult:
    """An expert episode of `cell_key` recorded into `folder` (which must not exist yet)."""
    cell = cell_make(cell_key)
    return episode_rollout(
        cell=cell,
        act=lambda _obs: cell.expert_action(),
        seed=seed,
        recorder=EpisodeRecorder(folder, overview=overview or OverviewSettings(px=64, fps=5.0)),
    )


def recorded_episode(
    *,
    trial: Trial,
    index: int,
    run: RolloutResult,
    outcome: str = EpisodeOutcome.SUCCESS,
    faults_at_s: tuple[float, ...] = (),
    **fields: Any,
) -> tuple[Episode, list[EpisodeMedia]]:
    """An Episode of `trial` at `index` with `run`'s recording stored for it (the same recording may be
    stored for several episodes), its stages, and a fault event at each of `faults_at_s`."""
    recording = run.recording
    if not isinstance(recording, EpisodeRecording):
        raise TypeError("the rollout was not recorded")
    if not trial.stages and run.stages.stages:
        trial.stages = list(run.stages.stages)
        trial.save(update_fields=["stages"])
    defaults: dict[str, Any] = {
        "cycle_time_s": run.sim_time_s,
        "stage_reached": run.stages.reached,
        "stage_times_s": list(run.stages.reached_at_s),
        "progress": run.stages.progress,
    }
    episode = EpisodeFactory(trial=trial, index=index, outcome=outcome, **{**defaults, **fields})
    for t_s in faults_at_s:
        EpisodeEventFactory(
            episode=episode, kind=EventKind.FAULT, category="drop", t_offset_s=t_s, message=f"fault at {t_s} s"
        )
    return episode, episode_recording_store(episode=episode, recording=recording)


def recorded_sweep_of(
    *,
    task: Task,
    run: RolloutResult,
    design: str,
    factors: Mapping[str, list[Level]],
    outcomes: Mapping[str, str],
    seed: int = 7,
) -> Sweep:
    """A finished sweep of `task` on a new simulated factory-kitting robot of the task's organization: each
    condition trial completed, holding one episode per letter of `outcomes[its label]` ("s" a success, "f" a
    failure; every condition as many), each with `run`'s recording stored for it."""
    episodes = {len(letters) for letters in outcomes.values()}
    if len(episodes) != 1:
        raise ValueError("every condition needs as many outcomes")
    sweep = sweep_schedule(
        task=task,
        policy_version=PolicyVersionFactory(),
        robot=RobotFactory(organization=task.organization),
        name="robustness",
        design=design,
        factors=dict(factors),
        episodes_per_condition=episodes.pop(),
        seed=seed,
        created_by=None,
        start_runner=False,
    )
    trials = list(sweep.conditions.all())
    if {t.sweep_label for t in trials} != set(outcomes):
        raise ValueError(f"the sweep's conditions are {sorted(t.sweep_label for t in trials)}")
    for trial in trials:
        for index, letter in enumerate(outcomes[trial.sweep_label]):
            outcome = EpisodeOutcome.SUCCESS if letter == "s" else EpisodeOutcome.FAILURE
            recorded_episode(trial=trial, index=index, run=run, outcome=outcome)
        trial.status = TrialStatus.COMPLETED
        trial.save(update_fields=["status"])
    return sweep


# A 2 x 2 grid around nominal (light_intensity 1.0, action_noise 0.0), five seeds per condition, in the
# sweep's order (nominal, then the grid's): the dim light costs three of nominal's five successes, the
# noise one, both together four.
GRID_SWEEP_OUTCOMES = {
    "nominal": "sssss",
    "light_intensity=0.4": "sffsf",
    "light_intensity=0.4, action_noise=0.2": "fffsf",
    "action_noise=0.2": "sssfs",
}


def recorded_grid_sweep(*, task: Task, run: RolloutResult) -> Sweep:
    """A finished two-factor grid sweep of `task` (GRID_SWEEP_OUTCOMES), every episode recorded: its page
    has every figure, the heat map included."""
    return recorded_sweep_of(
        task=task,
        run=run,
        design="grid",
        factors={"light_intensity": [0.4, 1.0], "action_noise": [0.0, 0.2]},
        outcomes=GRID_SWEEP_OUTCOMES,
    )


class RecordingCache:
    """One recorded rollout per (cell, seed), made on first use (encoding takes about a second);
    `remove()` deletes the folders and forgets them."""

    def __init__(self) -> None:
        self._root: Path | None = None
        self._runs: dict[tuple[str, int], RolloutResult] = {}

    def run(self, *, cell_key: str = FAST_CELL, seed: int = 3) -> RolloutResult:
        key = (cell_key, seed)
        if key not in self._runs:
            if self._root is None:
                self._root = Path(tempfile.mkdtemp(prefix="trialbench-recordings-"))
            self._runs[key] = recorded_rollout(cell_key=cell_key, seed=seed, folder=self._root / f"{cell_key}-{seed}")
        return self._runs[key]

    def remove(self) -> None:
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
        self._root, self._runs = None, {}
