"""Trials on the fast `tabletop-reach-2d` cell with a small ONNX policy, for runner tests."""

from __future__ import annotations

from policies.models import PolicyVersion
from policies.services import policy_version_register
from tests.factories import PolicyFactory, RobotFactory, TaskFactory, TrialFactory
from tests.policies.onnx_models import linear_policy
from trials.models import Trial

FAST_CELL = "tabletop-reach-2d"


def reach_policy_version(*, seed: int = 0) -> PolicyVersion:
    """A registered ONNX version whose I/O fits the reach cell (top camera, 3-d state, 3-d action)."""
    data, spec, _ = linear_policy(image_hw=(16, 16), instruction_dim=32, state_dim=3, action_dim=3, seed=seed)
    spec["images"][0]["camera"] = "top"
    spec["action"].update(low=[-1, -1, -1], high=[1, 1, 1])
    return policy_version_register(policy=PolicyFactory(), version=f"v{seed}", file=data, io_spec=spec)


def reach_trial(*, episodes: int = 10, seed: int = 100, version: PolicyVersion | None = None, **kwargs) -> Trial:
    task = TaskFactory(instruction="put the part in the tray")
    return TrialFactory(
        task=task,
        robot=RobotFactory(organization=task.organization, sim_cell_key=FAST_CELL),
        policy_version=version or reach_policy_version(),
        episodes_planned=episodes,
        seed=seed,
        **kwargs,
    )
