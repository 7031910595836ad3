"""Staff pages of immunizations (views in web/doses_views.py)."""

from django.urls import URLPattern, URLResolver, path, re_path

from . import doses_views, vrs_views

urlpatterns: list[URLPattern | URLResolver] = [
    # The person page's vaccination history (doses_views, htmx fragment).
    re_path(r"^history/(?P<atena_no>[0-9]{1,15})/$", doses_views.history, name="dose_history"),
    # VRS matching (vrs_views): runs, the error list of a run, one line's resolution.
    path("vrs/", vrs_views.runs, name="vrs_runs"),
    path("vrs/<int:run_id>/", vrs_views.run, name="vrs_run"),
    path("vrs/line/<int:line_id>/", vrs_views.line, name="vrs_line"),
]
