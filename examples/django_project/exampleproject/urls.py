"""URLs of the example project."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("auth/token", views.Login.as_view()),
    path("auth/logout", views.Logout.as_view()),
    path("api/me", views.Me.as_view()),
    path("hello", views.hello),
]
