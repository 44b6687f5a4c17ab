from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from trials.selectors import task_list_for_user


@login_required
def home(request: HttpRequest) -> HttpResponse:
    tasks = task_list_for_user(user=request.user).order_by("name")
    return render(request, "trials/home.html", {"tasks": tasks})


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness and database reachability, for load balancers and `make demo`."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
