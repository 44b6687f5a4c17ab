"""Robots pages: the user's organization's robots (integrators see only their own). Engineers register
robots and issue a physical robot's agent token here; the token is shown once, in the response.
The pages count and list each robot's trials, so they live in trials (which may read robots), not in
robots (which may not read trials); the URLs stay under /robots/."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from accounts.permissions import can_manage_for_organization, can_scope_tasks, engineer_required
from accounts.requests import AuthenticatedHttpRequest
from core.sim import cell_keys
from robots.forms import RobotRegisterForm
from robots.models import Robot, RobotKind
from robots.selectors import agent_job_counts, agent_job_list_for_robot, robot_is_online, robot_list_for_user
from robots.services import RobotRuleError, robot_agent_token_issue, robot_register
from trials.models import TrialStatus
from trials.selectors import trial_list_for_user, trial_list_with_progress


def _can_register(request: AuthenticatedHttpRequest) -> bool:
    return can_scope_tasks(request.user) and request.user.organization_id is not None


def _robot_list_page(
    request: AuthenticatedHttpRequest, form: RobotRegisterForm | None, status: int = 200
) -> HttpResponse:
    robots = robot_list_for_user(user=request.user).annotate(
        trial_count=Count("trials"),
        active_trial_count=Count("trials", filter=Q(trials__status__in=[TrialStatus.QUEUED, TrialStatus.RUNNING])),
    )
    return render(request, "robots/robot_list.html", {"robots": robots, "form": form}, status=status)


@login_required
def robot_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = RobotRegisterForm(user=request.user) if _can_register(request) else None
    return _robot_list_page(request, form)


@require_POST
@engineer_required
def robot_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Register a robot of the user's organization; a physical one gets its agent token at once."""
    if request.user.organization_id is None:
        raise PermissionDenied("A robot belongs to an organization; this account has none.")
    form = RobotRegisterForm(request.POST, user=request.user)
    if form.is_valid():
        data = form.cleaned_data
        try:
            robot = robot_register(
                organization_id=request.user.organization_id,
                name=data["name"],
                kind=data["kind"],
                sim_cell_key=data["sim_cell_key"],
                site=data["site"],
                model=data["model"],
                known_cell_keys=cell_keys(),
            )
        except RobotRuleError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            messages.success(request, f"Robot “{robot.name}” registered.")
            return _robot_detail_page(request, robot, token=_first_token(robot))
    messages.error(request, "The robot was not registered: please correct the fields marked below.")
    return _robot_list_page(request, form, status=400)


def _first_token(robot: Robot) -> str | None:
    return robot_agent_token_issue(robot=robot) if robot.kind == RobotKind.PHYSICAL else None


def _robot_detail_page(request: AuthenticatedHttpRequest, robot: Robot, *, token: str | None = None) -> HttpResponse:
    trials = trial_list_with_progress(trials=trial_list_for_user(user=request.user).filter(robot=robot))[:50]
    context: dict[str, object] = {
        "robot": robot,
        "trials": trials,
        "agent_token": token,  # shown in this response only: never stored raw, never redirected
        "can_issue_token": robot.kind == RobotKind.PHYSICAL
        and can_manage_for_organization(request.user, robot.organization_id),
    }
    if robot.kind == RobotKind.PHYSICAL:
        context |= {
            "online": robot_is_online(robot=robot),
            "job_counts": agent_job_counts(robot=robot),
            "jobs": agent_job_list_for_robot(robot=robot)[:50],
        }
    return render(request, "robots/robot_detail.html", context)


@login_required
def robot_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    robot = get_object_or_404(robot_list_for_user(user=request.user), pk=pk)
    return _robot_detail_page(request, robot)


@require_POST
@engineer_required
def robot_token_issue(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """A new agent token for a physical robot of the user's organization (the previous one stops working)."""
    robot = get_object_or_404(robot_list_for_user(user=request.user), pk=pk)
    if not can_manage_for_organization(request.user, robot.organization_id):
        raise PermissionDenied("Only the robot's own organization can issue its agent token.")
    if robot.kind != RobotKind.PHYSICAL:
        messages.error(request, "A simulated cell runs on the workers and has no agent token.")
        return _robot_detail_page(request, robot)
    token = robot_agent_token_issue(robot=robot)
    messages.success(request, f"New agent token for “{robot.name}”: the previous one no longer works.")
    return _robot_detail_page(request, robot, token=token)
