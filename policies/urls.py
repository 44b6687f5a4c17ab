from django.urls import path

from policies import views

urlpatterns = [
    path("", views.policy_list, name="policy-list"),
    path("versions/new/", views.policy_version_upload, name="policy-version-upload"),
    path("versions/<int:pk>/", views.policy_version_detail, name="policy-version-detail"),
]
