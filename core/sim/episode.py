"""Bookkeeping shared by the built-in cells: simulated clock, fault log, terminal outcome.

Kept apart from base.py (the interface) so cells stay small and agree on what a fault ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from core.sim.base import Cell, CellOutcome, Fault, Observation
from core.sim.stages import StageResult, StageTracker
from core.sim.variation import Levels

# Mirrors trials.models.EventCategory values; cells must not import Django models.
GRASP_MISS = "grasp_miss"
DROP = "drop"
COLLISION = "collision"
TIMEOUT = "timeout"
SAFETY_STOP = "safety_stop"
OTHER = "other"


@dataclass
class EpisodeLog:
    """The simulated clock, the faults so far and the outcome of one episode."""

    time_limit_s: float
    t_s: float = 0.0
    result: CellOutcome = CellOutcome.RUNNING
    events: list[Fault] = field(default_factory=list)
    stage_total: int = 0  # the cell's number of stages; success reaches the last one
    stage_count: int = 0

    def reset(self, *, time_limit_s: float | None = None) -> None:
        """Start a new episode at t = 0 with no faults; returns nothing."""
        if time_limit_s is not None:
            self.time_limit_s = time_limit_s
        self.t_s = 0.0
        self.result = CellOutcome.RUNNING
        self.events = []
        self.stage_count = 0

    @property
    def done(self) -> bool:
        return self.result is not CellOutcome.RUNNING

    def advance(self, *, dt_s: float) -> None:
        """Move the clock on by dt_s; returns nothing. Call timeout_check() after judging the step."""
        self.t_s = round(self.t_s + dt_s, 9)

    def timeout_check(self) -> None:
        """End a still-running episode with a timeout fault once the limit is reached; returns nothing.

        Called after success and faults are judged, so a success on the last step still counts.
        """
        if not self.done and self.t_s >= self.time_limit_s - 1e-9:
            self.fault(category=TIMEOUT, message=f"no success within {self.time_limit_s:g} s", fatal=True)

    def fault(self, *, category: str, message: str, fatal: bool, severity: str | None = None) -> None:
        """Record a fault at the current time; a fatal one ends the episode as a failure. Returns nothing."""
        if self.done:
            return
        self.events.append(
            Fault(
                category=category,
                t_s=self.t_s,
                message=message,
                severity=severity or ("error" if fatal else "warning"),
            )
        )
        if fatal:
            self.result = CellOutcome.FAILURE

    def succeed(self) -> None:
        """Mark the episode a success unless it already ended; returns nothing."""
        if not self.done:
            self.result = CellOutcome.SUCCESS
            self.stage_count = self.stage_total

    def stage_reach(self, count: int) -> None:
        """Note that the first `count` stages are reached (ignored when fewer than already noted, or
        once the episode ended); returns nothing."""
        if not self.done:
            self.stage_count = max(self.stage_count, min(count, self.stage_total))


class LoggedCell:
    """The Cell methods that only read the episode log; a cell keeps its EpisodeLog in `self._log`."""

    _log: EpisodeLog

    def outcome(self) -> CellOutcome:
        return self._log.result

    def faults(self) -> list[Fault]:
        return list(self._log.events)

    @property
    def sim_time_s(self) -> float:
        return self._log.t_s

    def stage_reached(self) -> int:
        return self._log.stage_count

    @property
    def time_limit_s(self) -> float:
        """Simulated seconds after which an episode still running ends with a timeout fault."""
        return self._log.time_limit_s

    @time_limit_s.setter
    def time_limit_s(self, seconds: float) -> None:
        # The runner sets the trial's episode timeout here before each reset: a cell made once per
        # process with its default limit would otherwise end a 60 s trial's episodes at 15 s.
        if not seconds > 0:
            raise ValueError("the time limit must be positive")
        self._log.time_limit_s = float(seconds)
        self._time_limit_changed(float(seconds))

    def _time_limit_changed(self, seconds: float) -> None:
        """Called after the limit is set, for a cell whose simulator must make room for it; returns nothing."""


# ---------------------------------------------------------------- a rollout that can be recorded


class StepRecorder(Protocol):
    """What a rollout calls to record an episode (core.recording.recorder.EpisodeRecorder is one);
    kept here as a Protocol so the simulator does not import the encoders."""

    def begin(self, *, cell: Cell) -> None: ...

    def step(self, *, cell: Cell, obs: Observation, action: npt.ArrayLike, latency_s: float | None = None) -> None: ...

    def finish(self, *, cell: Cell) -> object: ...

    def abort(self) -> None: ...


@dataclass
class RolloutResult:
    """One episode: outcome, policy steps, simulated seconds, faults, stages reached, and what the
    recorder's finish() returned (None without a recorder)."""

    outcome: CellOutcome
    steps: int
    sim_time_s: float
    faults: list[Fault]
    stages: StageResult
    recording: object = None


def cell_reset(
    cell: Cell, *, seed: int, instruction: str | None = None, variation: Levels | None = None
) -> Observation:
    """cell.reset for any caller: without a variation, called as before factors existed (so a cell or a
    test double written against the older protocol still works). Returns the first observation."""
    if variation is None:
        return cell.reset(seed, instruction=instruction)
    return cell.reset(seed, instruction=instruction, variation=variation)


def episode_rollout(
    *,
    cell: Cell,
    act: Callable[[Observation], npt.NDArray[np.float32]],
    seed: int,
    instruction: str | None = None,
    variation: Levels | None = None,
    recorder: StepRecorder | None = None,
    max_steps: int = 100_000,
) -> RolloutResult:
    """Run one closed-loop episode (reset(seed), then act -> step until the cell decides), tracking
    the stages reached and, with a recorder, recording every step. A recorder's files are dropped
    (abort) when the episode raises. `variation` sets the cell's factor levels (None: nominal).
    Returns a RolloutResult; raises VariationError for a level the cell cannot take."""
    obs = cell_reset(cell, seed=seed, instruction=instruction, variation=variation)
    tracker = StageTracker(stages=tuple(cell.stages()))
    tracker.update(t_s=cell.sim_time_s, reached=cell.stage_reached())
    steps = 0
    try:
        if recorder is not None:
            recorder.begin(cell=cell)
        while cell.outcome() is CellOutcome.RUNNING and steps < max_steps:
            started = time.perf_counter()
            action = act(obs)
            latency_s = time.perf_counter() - started
            if recorder is not None:
                recorder.step(cell=cell, obs=obs, action=action, latency_s=latency_s)
            obs = cell.step(action)
            steps += 1
            tracker.update(t_s=cell.sim_time_s, reached=cell.stage_reached())
        recording = recorder.finish(cell=cell) if recorder is not None else None
    except BaseException:
        if recorder is not None:
            recorder.abort()
        raise
    return RolloutResult(
        outcome=cell.outcome(),
        steps=steps,
        sim_time_s=float(cell.sim_time_s),
        faults=cell.faults(),
        stages=tracker.result(),
        recording=recording,
    )
