from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from config import exceptions as api_errors
from reports import views as report_views
from trials import views as trial_views

urlpatterns = [
    # The task list is the engineers' home page.
    path("", trial_views.task_list, name="home"),
    path("", include("trials.urls")),
    path("robots/", include("robots.urls")),
    path("policies/", include("policies.urls")),
    path("reports/", report_views.report_index, name="report-index"),
    path("reports/", include("reports.urls")),
    path("reports/", include("reports.stats_urls")),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("healthz", trial_views.healthz, name="healthz"),
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
