"""A URLconf of the test project without the token views."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [path("", views.whoami)]
