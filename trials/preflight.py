"""The preflight of a simulated trial: before its first chunk is enqueued, check that the policy can run
in the cell at all, so a mismatch ends the trial at once with the reason instead of failing (or, worse,
succeeding) a thousand episodes.

Checks, in order (the first failed one is the trial's reason; later ones are not run):
- `cell`: the robot's simulation cell can be made.
- `policy`: the version loads (ONNX: the artifact matches its sha256 and io_spec; remote: a valid
  remote_config).
- `inputs_outputs`: ONNX: every camera the policy reads exists in the cell, its image is no larger than
  the camera's and of the same shape (the runtime only scales images down: a larger input would be an
  upscaled, invented image, another aspect ratio a distorted scene), the state and action dimensions
  equal the cell's. Remote: core.policy.remote.remote_policy_preflight (an action_map of the cell's size,
  the server's declared action_dim, one real reply's size).
- `answer_time`: one observation of the cell (reset with the trial's seed) answered within the trial's
  episode timeout (wall seconds), with an action of the cell's size. A remote server that cannot be
  reached now is not refused (each episode lost to it is re-run): the check passes with a note.
- `success_at_reset`: the cell's success check is false right after reset for the first
  SUCCESS_AT_RESET_SEEDS seeds (a detector that says "success" before the policy moved would count
  every episode).
The report is stored in trial.preflight as {"passed", "checks": [{"name", "passed", "detail"}]}, and
the cell's stages in trial.stages.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from core.policy.base import EpisodeController, Policy
from core.policy.onnx_runtime import LoadedPolicy, PolicySpecError, policy_load
from core.policy.remote import (
    PolicyInfrastructureError,
    PolicyReplyError,
    RemoteConfigError,
    remote_policy,
    remote_policy_preflight,
)
from core.sim import Cell, CellOutcome
from policies.models import PolicyVersion
from trials.models import Trial

SUCCESS_AT_RESET_SEEDS = 3
# Aspect ratios closer than this are the same shape (a 96x95 crop is not a distortion).
ASPECT_TOLERANCE = 0.02


def version_policy(version: PolicyVersion) -> Policy:
    """The loaded ONNX policy of a version (cached per process by sha256), or a remote policy server's
    client. Raises PolicySpecError for a model not matching its spec, RemoteConfigError for a bad
    remote_config, FileNotFoundError for a version without its artifact."""
    if version.kind != PolicyVersion.Kind.ONNX:
        # Remote servers: nothing to load here; each episode opens its own connection.
        return remote_policy(kind=version.kind, endpoint_url=version.endpoint_url, remote_config=version.remote_config)
    if not version.artifact:
        raise FileNotFoundError(f"policy version {version} has no artifact file")
    return policy_load(path=Path(version.artifact.path), sha256=version.sha256, io_spec=version.io_spec)


@dataclass(frozen=True)
class PreflightCheck:
    name: str
    passed: bool
    detail: str


@dataclass
class PreflightReport:
    checks: list[PreflightCheck] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def reason(self) -> str:
        """The first failed check as `name: detail` ("" when all passed)."""
        failed = next((c for c in self.checks if not c.passed), None)
        return f"{failed.name}: {failed.detail}" if failed else ""

    def as_dict(self) -> dict[str, object]:
        return {"passed": self.passed, "checks": [asdict(c) for c in self.checks]}


class _Refused(Exception):
    """A check failed: its detail says why."""


def onnx_io_problems(policy: LoadedPolicy, cell: Cell) -> list[str]:
    """What in an ONNX policy's io_spec does not fit the cell (empty: it fits)."""
    info, spec = cell.info, policy.spec
    problems: list[str] = []
    camera_h, camera_w = int(info.image_shape[0]), int(info.image_shape[1])
    for image in spec.images:
        if image.camera not in info.cameras:
            problems.append(f"the policy needs camera {image.camera!r}; cell {info.key} has {sorted(info.cameras)}")
            continue
        if image.height > camera_h or image.width > camera_w:
            problems.append(
                f"the policy's {image.camera!r} image is {image.height}x{image.width}; the cell's camera gives "
                f"{camera_h}x{camera_w} (an image is only scaled down)"
            )
        elif abs(image.width / image.height - camera_w / camera_h) > ASPECT_TOLERANCE * camera_w / camera_h:
            problems.append(
                f"the policy's {image.camera!r} image is {image.height}x{image.width}, another shape than the "
                f"cell's {camera_h}x{camera_w} camera"
            )
    if spec.state is not None and spec.state.dim != info.state_dim:
        problems.append(f"the policy takes a state of {spec.state.dim}; cell {info.key} gives {info.state_dim}")
    if spec.action.dim != info.action_dim:
        problems.append(f"the policy returns actions of {spec.action.dim}; cell {info.key} takes {info.action_dim}")
    return problems


def _check_inputs_outputs(trial: Trial, policy: Policy, cell: Cell) -> str:
    if isinstance(policy, LoadedPolicy):
        problems = onnx_io_problems(policy, cell)
        if problems:
            raise _Refused("; ".join(problems))
        return f"images, state and action of {cell.info.action_dim} fit cell {cell.info.key}"
    try:
        note = remote_policy_preflight(
            version=trial.policy_version, cell=lambda: cell, seed=int(trial.seed), instruction=trial.instruction
        )
    except RemoteConfigError as exc:
        raise _Refused(str(exc)) from exc
    return note or f"the server's actions fit cell {cell.info.key}"


def _check_answer_time(trial: Trial, policy: Policy, cell: Cell) -> str:
    budget_s = float(trial.episode_timeout_s)
    cell.time_limit_s = budget_s
    obs = cell.reset(int(trial.seed), instruction=trial.instruction)
    controller: EpisodeController | None = None
    try:
        controller = policy.episode(instruction=trial.instruction)
        started = time.perf_counter()
        action = controller.act(obs)
        took_s = time.perf_counter() - started
    except PolicyInfrastructureError as exc:
        return f"skipped, the policy server cannot be reached now (its episodes will be re-run): {exc}"
    except (PolicyReplyError, PolicySpecError) as exc:
        raise _Refused(f"the policy did not answer an observation of the cell with an action: {exc}") from exc
    finally:
        if controller is not None:
            controller.close()
    if took_s > budget_s:
        raise _Refused(
            f"the policy took {took_s:.2f} s to answer one observation, longer than the episode timeout of "
            f"{budget_s:g} s"
        )
    shape = np.asarray(action).shape
    if shape != (cell.info.action_dim,):
        raise _Refused(
            f"the policy answered an action of shape {shape}; cell {cell.info.key} takes {cell.info.action_dim}"
        )
    return f"answered in {took_s * 1000:.1f} ms (timeout {budget_s:g} s)"


def _check_success_at_reset(trial: Trial, policy: Policy, cell: Cell) -> str:
    seeds = [int(trial.seed) + i for i in range(min(SUCCESS_AT_RESET_SEEDS, int(trial.episodes_planned)))]
    for seed in seeds:
        cell.reset(seed, instruction=trial.instruction)
        if cell.outcome() is CellOutcome.SUCCESS:
            raise _Refused(
                f"cell {cell.info.key} reports success right after reset (seed {seed}): its success check "
                "would count episodes the policy did nothing in"
            )
    return f"no success at reset for seeds {seeds[0]}..{seeds[-1]}"


def preflight_run(*, trial: Trial, cell: Callable[[], Cell]) -> tuple[PreflightReport, tuple[str, ...]]:
    """Run the checks (module docstring) for a simulated trial; `cell` makes the cell. Returns the report
    and the cell's stages (empty when the cell could not be made). Writes nothing."""
    report = PreflightReport()
    try:
        made = cell()
    except (KeyError, ValueError, RuntimeError, OSError) as exc:
        report.checks.append(PreflightCheck("cell", False, str(exc)))
        return report, ()
    stages = tuple(made.stages())
    report.checks.append(PreflightCheck("cell", True, f"{made.info.key}: {len(stages)} stages"))
    try:
        policy = version_policy(trial.policy_version)
    except (PolicySpecError, RemoteConfigError, FileNotFoundError, OSError) as exc:
        report.checks.append(PreflightCheck("policy", False, f"{type(exc).__name__}: {exc}"))
        return report, stages
    report.checks.append(PreflightCheck("policy", True, f"{trial.policy_version.kind} version loaded"))
    steps: tuple[tuple[str, Callable[[Trial, Policy, Cell], str]], ...] = (
        ("inputs_outputs", _check_inputs_outputs),
        ("answer_time", _check_answer_time),
        ("success_at_reset", _check_success_at_reset),
    )
    for name, check in steps:
        try:
            detail = check(trial, policy, made)
        except _Refused as exc:
            report.checks.append(PreflightCheck(name, False, str(exc)))
            break
        except Exception as exc:
            # A simulator or policy that raises here raises in every episode: refusing now ends the
            # trial with the reason, where letting it escape would leave the trial queued for the
            # reaper to start, and fail, again.
            report.checks.append(PreflightCheck(name, False, f"{type(exc).__name__}: {exc}"))
            break
        report.checks.append(PreflightCheck(name, True, detail))
    return report, stages


def trial_preflight(*, trial: Trial, cell: Callable[[], Cell]) -> PreflightReport:
    """Run the preflight and store it (trial.preflight) with the cell's stages (trial.stages). Returns
    the report; failing the trial is the caller's."""
    report, stages = preflight_run(trial=trial, cell=cell)
    trial.preflight = report.as_dict()
    trial.stages = list(stages)
    Trial.objects.filter(pk=trial.pk).update(preflight=trial.preflight, stages=trial.stages)
    return report
