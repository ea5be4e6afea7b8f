"""URLs of the test project."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from jwtgate.contrib.django_views import token_urls

from . import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", views.whoami),
    path("health", views.health),
    path("user", views.user),
    path("async-user", views.async_user),
    path("async", views.async_whoami),
    path("reports/daily", views.whoami),
    path("api/items", views.Items.as_view()),
    path("api/admin", views.Admin.as_view()),
    path("maybe", views.maybe),
    path("async-maybe", views.async_maybe),
    path("scoped", views.scoped),
    path("async-scoped", views.async_scoped),
    path("post/plain", views.plain_post),
    path("post/exempt", views.exempt_post),
    path("post/scoped", views.scoped_post),
    path("post/scoped-class", views.ScopedClassView.as_view()),
    path("optional-class", views.OptionalClassView.as_view()),
    path("auth/", include("jwtgate.contrib.django_urls")),  # not a public path: @optional
    path("v2/session/", include(token_urls(views.check_password, cookie=True, secure=False))),
]
