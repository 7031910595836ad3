"""Staff pages of immunizations (views in web/doses_views.py)."""

from django.urls import URLPattern, URLResolver, path

from . import vrs_views

urlpatterns: list[URLPattern | URLResolver] = [
    # VRS matching (vrs_views): runs, the error list of a run, one line's resolution.
    path("vrs/", vrs_views.runs, name="vrs_runs"),
    path("vrs/<int:run_id>/", vrs_views.run, name="vrs_run"),
    path("vrs/line/<int:line_id>/", vrs_views.line, name="vrs_line"),
]
