"""The shortlist page (/reports/shortlist/): thin, one selector. Every signed-in user sees the tasks whose
commercial terms it may read (as the ROI dashboard)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.requests import AuthenticatedHttpRequest
from reports.shortlist.selectors import shortlist_for_user


@require_GET
@login_required
def shortlist(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Per task: policy versions ranked by Bradley-Terry on their paired results, each beside its ROI."""
    return render(request, "reports/shortlist.html", {"shortlist": shortlist_for_user(user=request.user)})
