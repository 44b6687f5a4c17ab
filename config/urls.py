from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path, re_path

from accounts.permissions import can_use_admin
from common import exceptions as api_errors
from trials import views as trial_views

# The admin's lists span every organization: it is for platform administrators (superusers) only.
# Replaced on the default site (not a subclass) because every app's admin.py registers with admin.site.
admin.site.has_permission = lambda request: request.user.is_authenticated and can_use_admin(request.user)  # type: ignore[method-assign]

urlpatterns = [
    # The task list is the engineers' home page.
    path("", trial_views.task_list, name="home"),
    path("", include("trials.urls")),
    path("robots/", include("trials.robot_urls")),
    path("policies/", include("policies.urls")),
    path("reports/", include("reports.urls")),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("healthz", trial_views.healthz, name="healthz"),
    # Browsers ask for /favicon.ico whatever the page links: send them to the static icon, not a 404.
    # (resolved per request: the manifest storage knows the hashed name only after collectstatic)
    path("favicon.ico", lambda request: redirect(static("favicon.svg"), permanent=True), name="favicon"),
    path("api/v1/", include("config.api_urls")),
    path("account/", include("accounts.urls")),
    # Last: any other path under /api/ is a JSON 404, not Django's HTML page (api_route_not_found).
    re_path(r"^api/", api_errors.api_route_not_found),
]

# Django's own error pages stay HTML for the site and become the API's JSON error under /api/.
handler400 = api_errors.handler400
handler403 = api_errors.handler403
handler404 = api_errors.handler404
handler500 = api_errors.handler500
