"""The browser upload of an episode CSV (/account/uploads/csv/): the same ingest service as the REST
API (trials.ingest), so the same validation and idempotency, with the errors shown by line."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from rest_framework.exceptions import APIException

from accounts.permissions import can_run_trials
from accounts.requests import AuthenticatedHttpRequest
from common.api_support import body_limit_check
from trials.forms import EpisodeCsvUploadForm
from trials.ingest import IngestSummary, episodes_ingest_csv
from trials.selectors import trial_list_writable_by_user


@login_required
def episode_csv_upload(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Upload a CSV of episodes to one of the user's organization's trials (`?trial=ID` preselects it).
    Shows what was created or already there, or the errors by line; nothing is written on an error."""
    allowed = can_run_trials(request.user)
    trials = trial_list_writable_by_user(user=request.user).order_by("-created_at")
    result: IngestSummary | None = None
    problem: dict[str, object] | None = None
    status = 200
    if request.method == "POST" and allowed:
        form = EpisodeCsvUploadForm(request.POST, request.FILES, trials=trials)
        if form.is_valid():
            try:
                body_limit_check(request)
                result = episodes_ingest_csv(trial=form.cleaned_data["trial"], raw=form.cleaned_data["file"].read())
            except APIException as exc:
                errors = getattr(exc, "errors", None) or (exc.detail if isinstance(exc.detail, dict) else {})
                status = exc.status_code
                problem = {"status": status, "detail": _summary(exc), "errors": _flatten(errors)}
            except IntegrityError:
                # As the API answers (common/exceptions.py): a constraint the validation did not foresee.
                status = 409
                problem = {
                    "status": status,
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
    # The template keeps its accounts/ path: the page sits under /account/ beside the token page.
    return render(request, "accounts/episode_csv_upload.html", context, status=status)


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
