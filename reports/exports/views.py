"""CSV exports of a trial (episodes, events), streamed. Visibility from trials.selectors: another
organization's trial is a 404."""

from __future__ import annotations

from collections.abc import Iterator

from django.contrib.auth.decorators import login_required
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from accounts.requests import AuthenticatedHttpRequest
from reports.exports.selectors import episodes_csv, events_csv
from trials.selectors import trial_list_for_user


def _csv_response(lines: Iterator[str], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@login_required
def trial_episodes_csv(request: AuthenticatedHttpRequest, pk: int) -> StreamingHttpResponse:
    trial = get_object_or_404(trial_list_for_user(user=request.user), pk=pk)
    return _csv_response(episodes_csv(trial=trial), f"trial-{trial.pk}-episodes.csv")


@require_GET
@login_required
def trial_events_csv(request: AuthenticatedHttpRequest, pk: int) -> StreamingHttpResponse:
    trial = get_object_or_404(trial_list_for_user(user=request.user), pk=pk)
    return _csv_response(events_csv(trial=trial), f"trial-{trial.pk}-events.csv")
