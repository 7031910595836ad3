"""Staff pages of governance (views in web/governance_views.py)."""

from django.urls import URLPattern, URLResolver, path

from . import governance_views as v

urlpatterns: list[URLPattern | URLResolver] = [
    path("", v.index, name="governance"),
    path("requests/", v.request_list, name="governance-requests"),
    path("requests/<int:request_id>/", v.request_detail, name="governance-request"),
    path("requests/<int:request_id>/disclosure.<str:fmt>", v.disclosure, name="governance-disclosure"),
    path("retention/", v.retention_page, name="governance-retention"),
    path("pia/", v.pia_page, name="governance-pia"),
    path("changes/", v.changes_page, name="governance-changes"),
]
