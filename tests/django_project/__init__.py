"""A small real Django project (settings, urls, views, a DRF API) for jwtgate's tests."""
