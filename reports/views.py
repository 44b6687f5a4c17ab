"""Reports index: for now a list of the tasks with trial evidence; the statistics and ROI pages
(issues 7 and 8) hang off it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from trials.selectors import task_list_for_user


@login_required
def report_index(request: HttpRequest) -> HttpResponse:
    tasks = task_list_for_user(user=request.user).order_by("name")
    return render(request, "reports/index.html", {"tasks": tasks})
