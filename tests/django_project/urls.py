"""URLs of the test project."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("", views.whoami),
    path("health", views.health),
    path("user", views.user),
    path("async-user", views.async_user),
    path("async", views.async_whoami),
    path("reports/daily", views.whoami),
    path("api/items", views.Items.as_view()),
    path("api/admin", views.Admin.as_view()),
]
