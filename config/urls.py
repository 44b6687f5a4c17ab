from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from trials import views as trial_views

urlpatterns = [
    path("", trial_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("healthz", trial_views.healthz, name="healthz"),
    path("api/v1/", include("config.api_urls")),
]
