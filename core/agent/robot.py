"""The robot interface the agent drives. Implement it for a real arm; `SimulatedRobot` implements it
over a simulation cell so an agent can be demonstrated and tested without hardware.

A real implementation, e.g. over ROS 2 (sketch of the shape, with rclpy):

    class Ros2Arm:
        def __init__(self, node):              # an rclpy node with camera/joint subscriptions
            self.node, self.t0 = node, 0.0
        def reset(self, seed, instruction):    # home the arm, open gripper; seed picks the part layout
            self.node.call_home(); self.t0 = time.monotonic(); self.events = []
        def observe(self):                     # latest camera frames (uint8 HxWx3) and joint state
            return {"front": self.node.front_image()}, self.node.joint_positions()
        def act(self, action):                 # publish an end-effector delta + gripper command
            self.node.publish_delta(action[:3]); self.node.gripper(action[3] > 0)
        def done(self):                        # from the cell PLC / a part-present sensor in the tray
            return "success" if self.node.part_in_tray() else None
        def drain_events(self):                # operator button presses, e-stops, safety-stops
            events, self.events = self.events, []; return events
        def elapsed_s(self):
            return time.monotonic() - self.t0
        def close(self): self.node.destroy_node()

No Django here: the agent runs on the robot PC with numpy, onnxruntime and requests only.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from core.sim.base import Cell, CellOutcome, Fault, Observation
from core.sim.stages import StageResult, StageTracker


@runtime_checkable
class RobotInterface(Protocol):
    def reset(self, seed: int, instruction: str) -> None:
        """Bring the cell to its start state for this seed."""

    def observe(self) -> tuple[dict[str, npt.NDArray[np.uint8]], npt.NDArray[np.float32]]:
        """Camera images (name -> uint8 HxWx3) and the proprio state."""

    def act(self, action: npt.NDArray[np.float32]) -> None:
        """Execute one action (one control period)."""

    def done(self) -> str | None:
        """'success' or 'failure' once the episode is decided, else None."""

    def drain_events(self) -> list[Fault]:
        """Interventions, faults and e-stops since the last call."""

    def elapsed_s(self) -> float:
        """Seconds since reset (robot time: wall clock on hardware, simulated time in simulation)."""

    def close(self) -> None:
        """Release hardware or simulator resources."""


@runtime_checkable
class StageReporting(Protocol):
    """A robot interface that knows how far the episode got (the task's ordered stages and when each
    was first reached): the agent reports it with the completion."""

    def stage_result(self) -> StageResult:
        """The stages of the episode since the last reset."""


@runtime_checkable
class RecordableRobot(Protocol):
    """A robot interface whose episodes core.recording's EpisodeRecorder can record: it exposes the cell
    (its cameras, stages and overview camera) the recorder reads."""

    @property
    def cell(self) -> Cell:
        """The simulation cell being driven."""


class SimulatedRobot:
    """RobotInterface over a simulation cell. `realtime` > 0 sleeps that fraction of each control
    period, so an agent paces like a real robot (demos, and tests that kill an agent mid-episode)."""

    def __init__(self, cell: Cell, *, realtime: float = 0.0) -> None:
        self.cell = cell
        self.realtime = realtime
        self._obs: Observation | None = None
        self._reported = 0
        self._stages = StageTracker(stages=())

    def reset(self, seed: int, instruction: str) -> None:
        self._obs = self.cell.reset(seed=seed, instruction=instruction)
        self._reported = 0
        self._stages = StageTracker(stages=tuple(self.cell.stages()))
        self._stages.update(t_s=self.cell.sim_time_s, reached=self.cell.stage_reached())

    def observe(self) -> tuple[dict[str, npt.NDArray[np.uint8]], npt.NDArray[np.float32]]:
        if self._obs is None:
            raise RuntimeError("reset() first")
        return self._obs.images, self._obs.state

    def act(self, action: npt.NDArray[np.float32]) -> None:
        self._obs = self.cell.step(np.asarray(action, dtype=np.float32))
        self._stages.update(t_s=self.cell.sim_time_s, reached=self.cell.stage_reached())
        if self.realtime > 0:
            time.sleep(self.cell.info.control_dt_s * self.realtime)

    def done(self) -> str | None:
        outcome = self.cell.outcome()
        return None if outcome is CellOutcome.RUNNING else str(outcome)

    def drain_events(self) -> list[Fault]:
        faults = self.cell.faults()
        new, self._reported = faults[self._reported :], len(faults)
        return new

    def elapsed_s(self) -> float:
        return float(self.cell.sim_time_s)

    def stage_result(self) -> StageResult:
        return self._stages.result()

    def close(self) -> None:
        self.cell.close()
