"""Runs trials. Simulated robots: the trial's episodes are split into chunks, one Celery task each,
so several workers share a trial. Physical robots: episodes become jobs for the robot's agent.

The simulation episode loop lives here (see issue: VLA trials in simulation)."""

from __future__ import annotations

from trials.models import Trial


def trial_start(*, trial_id: int) -> None:
    """Dispatch a queued trial to whatever runs it. Raises NotImplementedError until the
    simulation runner lands; the Celery task turns that into a failed trial with the reason."""
    trial = Trial.objects.select_related("robot", "policy_version").get(pk=trial_id)
    raise NotImplementedError(f"no runner yet for {trial.robot.kind} robots")
