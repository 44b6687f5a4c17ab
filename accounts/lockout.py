"""Login lockout with django-axes: after AXES_FAILURE_LIMIT wrong passwords for one username from one
address, that pair is locked for AXES_COOLOFF_MINUTES. Only password logins (the login page and the
admin's) go through Django's authenticate(), so API tokens and robot tokens are never locked out."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: behind AXES_TRUSTED_PROXY_COUNT proxies, the entry that many hops from the
    right of X-Forwarded-For (the left part is whatever the client sent, so it is never trusted);
    REMOTE_ADDR otherwise. Without this, every user behind the TLS proxy would share one address."""
    hops = settings.AXES_TRUSTED_PROXY_COUNT
    if hops > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR")


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """The login page again, with a message saying why and for how long, as 429 Too Many Requests."""
    minutes = round(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    message = (
        f"Too many failed log-ins for this username from your address: log-in is locked for {minutes} minutes. "
        "Wait, or ask an administrator to unlock it. API and robot tokens keep working."
    )
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    form = AuthenticationForm(request, initial={"username": username})
    return render(request, "registration/login.html", {"form": form, "locked_out": message}, status=429)
