"""The interface every simulation cell implements, and what the runner and the agent rely on.

A cell is a closed-loop environment: reset(seed) -> obs; loop {policy(obs) -> action; step(action)
-> obs} until outcome() is not RUNNING. Time is simulated seconds (`sim_time_s`), so cycle times do
not depend on how fast the worker's CPU is.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from core.sim.variation import Factor, Levels


class CellOutcome(enum.StrEnum):
    RUNNING = "running"
    SUCCESS = "success"
    FAILURE = "failure"


@dataclass(frozen=True)
class Observation:
    """images: camera name -> uint8 array HxWx3; state: float32 proprio vector; the instruction."""

    images: dict[str, npt.NDArray[np.uint8]]
    state: npt.NDArray[np.float32]
    instruction: str


@dataclass(frozen=True)
class Fault:
    """A fault the cell detected; category is one of trials.models.EventCategory values."""

    category: str
    t_s: float
    message: str
    severity: str = "error"
    kind: str = "fault"


@dataclass
class CellInfo:
    key: str
    title: str
    action_dim: int
    state_dim: int
    cameras: tuple[str, ...]
    image_shape: tuple[int, int, int]
    control_dt_s: float
    default_instruction: str
    instructions: tuple[str, ...] = field(default_factory=tuple)  # phrasings seen in training


@runtime_checkable
class Cell(Protocol):
    info: CellInfo

    def factors(self) -> tuple[Factor, ...]:
        """The variation factors this cell understands (core.sim.variation), each with its nominal level."""

    def reset(self, seed: int, instruction: str | None = None, variation: Levels | None = None) -> Observation:
        """Start an episode; all randomness (part, pose, distractors, lighting) comes from the seed.

        `variation` sets some factors' levels (the rest stay nominal; None = all nominal, today's
        episodes exactly). Raises core.sim.variation.VariationError naming a bad factor or level. A
        factor may rephrase the instruction: the policy must be given the returned obs.instruction."""

    def step(self, action: npt.NDArray[np.float32]) -> Observation:
        """Apply one action for control_dt_s simulated seconds."""

    # Settable: episodes still running after this many simulated seconds end with a timeout fault.
    time_limit_s: float

    def outcome(self) -> CellOutcome:
        """SUCCESS/FAILURE once decided (including timeout and fatal faults), else RUNNING."""

    def faults(self) -> list[Fault]:
        """Faults detected since reset, in time order."""

    @property
    def sim_time_s(self) -> float:
        """Simulated seconds since reset."""

    def expert_action(self) -> npt.NDArray[np.float32]:
        """The scripted expert's action for the current state (for demos and solvability tests)."""

    def close(self) -> None:
        """Free renderer and simulator resources."""

    def stages(self) -> tuple[str, ...]:
        """The task's ordered stages (e.g. reached the part, grasped, ..., released); the last one is
        the success itself, so a successful episode has reached them all."""

    def stage_reached(self) -> int:
        """How many of stages() the episode has reached so far, 0..len(stages()); never decreases within
        an episode (a part dropped after the grasp keeps "grasped"), and reaching a stage counts the
        earlier ones as reached."""

    def render_overview(self, *, px: int) -> npt.NDArray[np.uint8]:
        """A px x px x 3 uint8 view of the whole cell for people watching the episode (not shown to
        the policy); renders the current state, so it costs about as much as one policy camera frame."""
