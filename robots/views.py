"""Robots pages: the user's organization's robots (integrators see only their own)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from robots.models import RobotKind
from robots.selectors import agent_job_counts, agent_job_list_for_robot, robot_is_online, robot_list_for_user
from trials.models import TrialStatus
from trials.selectors import trial_list_for_user, trial_list_with_progress


@login_required
def robot_list(request: HttpRequest) -> HttpResponse:
    robots = robot_list_for_user(user=request.user).annotate(
        trial_count=Count("trials"),
        active_trial_count=Count("trials", filter=Q(trials__status__in=[TrialStatus.QUEUED, TrialStatus.RUNNING])),
    )
    return render(request, "robots/robot_list.html", {"robots": robots})


@login_required
def robot_detail(request: HttpRequest, pk: int) -> HttpResponse:
    robot = get_object_or_404(robot_list_for_user(user=request.user), pk=pk)
    trials = trial_list_with_progress(trials=trial_list_for_user(user=request.user).filter(robot=robot))[:50]
    context = {"robot": robot, "trials": trials}
    if robot.kind == RobotKind.PHYSICAL:
        context |= {
            "online": robot_is_online(robot=robot),
            "job_counts": agent_job_counts(robot=robot),
            "jobs": agent_job_list_for_robot(robot=robot)[:50],
        }
    return render(request, "robots/robot_detail.html", context)
