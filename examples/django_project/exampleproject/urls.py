"""URLs of the example project."""

from __future__ import annotations

from django.urls import include, path

from jwtgate.contrib.django_views import token_urls

from . import views

urlpatterns = [
    # POST auth/token, auth/refresh, auth/logout, auth/logout-all, auth/verify
    path("auth/", include(token_urls(views.check_password))),
    path("api/me", views.Me.as_view()),
    path("hello", views.hello),
    path("welcome", views.welcome),
    path("reports", views.reports),
]
