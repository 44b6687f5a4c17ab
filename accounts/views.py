"""Integrators' token pages: API tokens (create with the secret shown once, list, revoke). The browser
CSV upload beside them (/account/uploads/csv/) records episodes, so it is trials.upload_views."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.forms import ApiTokenForm
from accounts.models import ApiToken
from accounts.requests import AuthenticatedHttpRequest
from accounts.services import api_token_create, api_token_revoke


@login_required
def api_tokens(request: AuthenticatedHttpRequest) -> HttpResponse:
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
def api_token_revoke_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponseRedirect:
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    api_token_revoke(token=token)
    messages.success(request, f"Token “{token.name}” revoked; requests using it now get 401.")
    return redirect("api-tokens")
