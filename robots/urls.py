from django.urls import path

from robots import views

urlpatterns = [
    path("", views.robot_list, name="robot-list"),
    path("<int:pk>/", views.robot_detail, name="robot-detail"),
]
