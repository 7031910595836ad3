"""Staff pages of exports (views in web/exports_views.py)."""

from django.urls import URLPattern, URLResolver, path

from . import exports_views as v

urlpatterns: list[URLPattern | URLResolver] = [
    path("", v.index, name="exports"),
    path("new/", v.new, name="exports-new"),
    path("<int:request_id>/decide/", v.decide, name="exports-decide"),
    path("<int:request_id>/run/", v.run, name="exports-run"),
    path("media/<str:serial>/confirm/", v.confirm_deletion, name="exports-confirm"),
]
