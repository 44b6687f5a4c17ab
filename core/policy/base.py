"""The interface every policy implements, so the runner, the robot agent and the reference evaluation
drive a local ONNX model, a remote policy server and our own served policy alike.

A `Policy` opens one `EpisodeController` per episode (`episode(instruction=...)`); the controller maps
each observation to the next action (`act`), keeps the latency figures of its inferences
(`latency_summary`) and releases what the episode held (`close`: a websocket, an HTTP session, or
nothing). Callers always close a controller, in a `finally`, whichever kind it is.

Implemented by core.policy.onnx_runtime.LoadedPolicy, core.policy.remote.RemotePolicy and
core.policy.serve.PolicyServer. They name these protocols as bases, so mypy checks each method's
signature where the class is defined (and refuses to instantiate one that leaves a method out);
tests/policies/test_policy_interface.py runs an episode through each.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from core.sim.base import Observation


@runtime_checkable
class EpisodeController(Protocol):
    """One episode's view of a policy: observation in, action out."""

    def act(self, obs: Observation) -> npt.NDArray[np.float32]:
        """The action to execute for `obs` (the cell's action vector, float32)."""
        ...

    def latency_summary(self) -> dict[str, float]:
        """Inference latency so far: `policy_latency_median_ms`, `policy_latency_p95_ms`, `inferences`
        (and, for servers that report it, `server_infer_median_ms`)."""
        ...

    def close(self) -> None:
        """Release what the episode holds; safe to call more than once."""
        ...


@runtime_checkable
class Policy(Protocol):
    """A policy version ready to run: local or remote, loaded once, one controller per episode."""

    def episode(self, *, instruction: str) -> EpisodeController:
        """A controller for one episode with this instruction. Remote kinds connect here and raise
        core.policy.remote.PolicyUnreachable when the server cannot be reached."""
        ...
