"""Policies pages: the policies a user may use (shared and its organization's) and their versions;
engineers upload new ONNX versions, checked by policy_version_register."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from accounts.permissions import can_scope_tasks, engineer_required
from accounts.requests import AuthenticatedHttpRequest
from policies.forms import PolicyVersionUploadForm
from policies.models import PolicyVersion
from policies.selectors import policy_list_for_user, policy_version_list_for_user
from policies.services import PolicyUploadError, policy_version_register


@login_required
def policy_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    policies = policy_list_for_user(user=request.user).prefetch_related(
        Prefetch(
            "versions",
            # A blind comparison's sealed arms are not counted: which versions it compares stays sealed too.
            queryset=PolicyVersion.objects.annotate(
                trial_count=Count(
                    "trials", filter=Q(trials__blind__isnull=True) | Q(trials__blind__unblinded_at__isnull=False)
                )
            ).order_by("-created_at"),
        )
    )
    return render(
        request, "policies/policy_list.html", {"policies": policies, "can_upload": can_scope_tasks(request.user)}
    )


@login_required
def policy_version_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    version = get_object_or_404(policy_version_list_for_user(user=request.user).select_related("created_by"), pk=pk)
    # JSON, as it is uploaded and as the API returns it (not a Python repr with single quotes and True).
    io_spec_json = json.dumps(version.io_spec, indent=2, ensure_ascii=False) if version.io_spec else ""
    return render(request, "policies/version_detail.html", {"version": version, "io_spec_json": io_spec_json})


@engineer_required
def policy_version_upload(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = PolicyVersionUploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            version = policy_version_register(
                policy=data["policy"],
                version=data["version"],
                file=data["artifact"],
                io_spec=data["io_spec"],
                created_by=request.user,
                notes=data["notes"],
            )
        except PolicyUploadError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            messages.success(request, f"{version} registered (sha256 {version.sha256[:12]}…).")
            return redirect("policy-version-detail", pk=version.pk)
    if request.method == "POST":
        messages.error(request, "The version was not registered: see the fields marked below.")
    return render(request, "policies/version_upload.html", {"form": form})
