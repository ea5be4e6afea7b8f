"""The token views with their defaults, for ``include("jwtgate.contrib.django_urls")``.

See :mod:`jwtgate.contrib.django_views`; use its ``token_urls()`` for options.
"""

from __future__ import annotations

from jwtgate.contrib.django_views import token_urls

urlpatterns = token_urls()
