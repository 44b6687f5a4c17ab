"""Request types for views that run after authentication, so `request.user` is our `User` (not
`User | AnonymousUser`) without a `type: ignore` at every use. Annotate a view's `request` with these;
the type is only a promise to mypy: the view must still be behind `login_required`, a role decorator
or a DRF permission that rejects anonymous callers."""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.request import Request

from accounts.models import User


class AuthenticatedHttpRequest(HttpRequest):
    user: User  # narrowed: only reached by logged-in users


class AuthenticatedApiRequest(Request):
    user: User  # narrowed: the API's permission classes refuse anonymous callers
