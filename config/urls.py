from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

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
]
