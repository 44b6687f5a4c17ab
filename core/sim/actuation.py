"""Action noise and actuation delay between a policy's action and what a cell executes, for every cell.

Two variation factors every cell offers the same way (`actuation_factors()`): Gaussian noise on the
motion components of each action (std as a fraction of each component's range, high - low), and a
delay of whole control steps (the policy's action at step t is executed at step t + delay; the cell
executes its idle action until then, as a controller holds position while its command queue fills).
At the nominal levels (no noise, no delay) `Actuation.apply` returns the action it was given, so a
cell's nominal episodes are untouched. Noise comes from the episode's own `factor_rng` stream.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from core.sim.variation import Factor, Level, factor_rng

ACTION_NOISE = "action_noise"
ACTUATION_DELAY = "actuation_delay"
MAX_DELAY_STEPS = 10


def actuation_factors(*, control_dt_s: float) -> tuple[Factor, ...]:
    """The action-noise and actuation-delay factors, described for a cell stepping every control_dt_s."""
    return (
        Factor(
            key=ACTION_NOISE,
            title="Action noise",
            unit="std, fraction of the action range",
            nominal=0.0,
            low=0.0,
            high=0.25,
            description=(
                "Gaussian noise added to every motion component of each action before the cell executes it "
                "(std = level x (high - low) of that component; the gripper command is left alone), "
                "drawn afresh each step from the episode's seed."
            ),
        ),
        Factor(
            key=ACTUATION_DELAY,
            title="Actuation delay",
            unit="steps",
            nominal=0.0,
            low=0.0,
            high=float(MAX_DELAY_STEPS),
            integer=True,
            description=(
                f"Control steps (of {control_dt_s * 1000:g} ms) between the policy's action and its "
                "execution; until the first action arrives the cell holds still."
            ),
        ),
    )


class Actuation:
    """Applies an episode's action noise and delay; `reset` at every episode start, `apply` on every step.

    `low`/`high` are the action bounds (the noise scale), `noisy` marks the components noise applies to
    (motion, not a binary gripper command), and `idle` is the action executed while a delay's queue
    fills (no motion, gripper as it starts)."""

    def __init__(
        self,
        *,
        low: Sequence[float],
        high: Sequence[float],
        noisy: Sequence[bool],
        idle: Sequence[float],
    ) -> None:
        self._scale = np.asarray(high, dtype=np.float64) - np.asarray(low, dtype=np.float64)
        self._mask = np.asarray(noisy, dtype=bool)
        self._idle = np.asarray(idle, dtype=np.float32)
        if not self._scale.shape == self._mask.shape == self._idle.shape:
            raise ValueError("low, high, noisy and idle must have one entry per action component")
        self._std = 0.0
        self._queue: deque[npt.NDArray[np.float32]] = deque()
        self._delay = 0
        self._rng = np.random.default_rng(0)

    def reset(self, *, seed: int, levels: dict[str, Level]) -> None:
        """Start an episode at `levels` (validated; the two actuation keys are read, others ignored)."""
        self._std = float(levels.get(ACTION_NOISE, 0.0))
        self._delay = int(float(levels.get(ACTUATION_DELAY, 0.0)))
        self._queue = deque(self._idle.copy() for _ in range(self._delay))
        self._rng = factor_rng(seed, ACTION_NOISE)

    @property
    def nominal(self) -> bool:
        return self._std == 0.0 and self._delay == 0

    def apply(self, action: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """The action the cell executes this step: `action` itself at nominal levels; otherwise the one
        `delay` steps back, with this step's noise added."""
        if self.nominal:
            return action
        executed = np.asarray(action, dtype=np.float32).reshape(-1)[: self._idle.size].copy()
        if executed.size < self._idle.size:  # a short action: the cell's own check reports it
            return action
        if self._delay:
            self._queue.append(executed)
            executed = self._queue.popleft()
        if self._std > 0.0:
            noise = self._rng.normal(0.0, 1.0, size=self._idle.size) * self._std * self._scale
            executed = (executed + np.where(self._mask, noise, 0.0)).astype(np.float32)
        return executed
