from django.urls import path

from trials import robot_views as views

urlpatterns = [
    path("", views.robot_list, name="robot-list"),
    path("new/", views.robot_create, name="robot-create"),
    path("<int:pk>/", views.robot_detail, name="robot-detail"),
    path("<int:pk>/token/", views.robot_token_issue, name="robot-token-issue"),
]
