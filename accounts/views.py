"""Integrators' pages: API tokens (create with the secret shown once, list, revoke) and a browser CSV
upload of episodes, which goes through exactly the same validation and idempotency as the REST API."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from rest_framework.exceptions import APIException

from accounts.forms import ApiTokenForm, EpisodeCsvUploadForm
from accounts.models import ApiToken, Role
from accounts.services import api_token_create, api_token_revoke
from common.api_support import body_limit_check
from trials.api import ingest_csv
from trials.selectors import trial_list_writable_by_user


@login_required
def api_tokens(request: HttpRequest) -> HttpResponse:
    """GET: the user's tokens and a form. POST: create one and show its secret in this response only
    (rendered, not redirected, so the secret never sits in a session or a URL)."""
    secret = None
    if request.method == "POST":
        form = ApiTokenForm(request.POST)
        if form.is_valid():
            days = form.cleaned_data["expires_in_days"]
            expires_at = timezone.now() + timedelta(days=days) if days else None
            _, secret = api_token_create(user=request.user, name=form.cleaned_data["name"], expires_at=expires_at)
            form = ApiTokenForm()
    else:
        form = ApiTokenForm()
    tokens = ApiToken.objects.filter(user=request.user)
    context = {
        "form": form,
        "secret": secret,
        "tokens": tokens,
        "now": timezone.now(),
        "docs_url": reverse("api-docs"),
        "template_url": reverse("api-episode-csv-template"),
    }
    return render(request, "accounts/api_tokens.html", context, status=201 if secret else 200)


@login_required
@require_POST
def api_token_revoke_view(request: HttpRequest, pk: int) -> HttpResponseRedirect:
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    api_token_revoke(token=token)
    messages.success(request, f"Token “{token.name}” revoked; requests using it now get 401.")
    return redirect("api-tokens")


@login_required
def episode_csv_upload(request: HttpRequest) -> HttpResponse:
    """Upload a CSV of episodes to one of the user's organization's trials (`?trial=ID` preselects it).
    Shows what was created or already there, or the errors by line; nothing is written on an error."""
    allowed = (
        request.user.is_superuser
        or request.user.groups.filter(name__in=[str(Role.ENGINEER), str(Role.INTEGRATOR)]).exists()
    )
    trials = trial_list_writable_by_user(user=request.user).order_by("-created_at")
    result = problem = None
    if request.method == "POST" and allowed:
        form = EpisodeCsvUploadForm(request.POST, request.FILES, trials=trials)
        if form.is_valid():
            try:
                body_limit_check(request)  # type: ignore[arg-type]
                result = ingest_csv(trial=form.cleaned_data["trial"], raw=form.cleaned_data["file"].read()).data
            except APIException as exc:
                errors = getattr(exc, "errors", None) or (exc.detail if isinstance(exc.detail, dict) else {})
                problem = {"status": exc.status_code, "detail": _summary(exc), "errors": _flatten(errors)}
            except IntegrityError:
                # As the API answers (common/exceptions.py): a constraint the validation did not foresee.
                problem = {
                    "status": 409,
                    "detail": "The file conflicts with recorded data; nothing was written.",
                    "errors": [],
                }
    else:
        form = EpisodeCsvUploadForm(initial={"trial": request.GET.get("trial")}, trials=trials)
    context = {
        "form": form,
        "result": result,
        "problem": problem,
        "allowed": allowed,
        "template_url": reverse("api-episode-csv-template"),
    }
    return render(request, "accounts/episode_csv_upload.html", context, status=problem["status"] if problem else 200)


def _summary(exc: APIException) -> str:
    if isinstance(exc.detail, str):
        return exc.detail
    return "The file was rejected; nothing was written."


def _flatten(errors: object, prefix: str = "") -> list[tuple[str, str]]:
    """[(where, message)] from nested error dicts, e.g. ("line 4 / cycle_time_s", "Ensure ...")."""
    rows: list[tuple[str, str]] = []
    if isinstance(errors, dict):
        for key, value in errors.items():
            rows += _flatten(value, f"{prefix} / {key}" if prefix else str(key))
    elif isinstance(errors, list):
        for value in errors:
            rows += _flatten(value, prefix)
    else:
        rows.append((prefix, str(errors)))
    return rows
