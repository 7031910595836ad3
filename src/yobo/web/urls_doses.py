"""Staff pages of immunizations (views in web/doses_views.py)."""

from django.urls import URLPattern, URLResolver, path, re_path

from . import dose_import_views, doses_views, entry_views, stats_views, vrs_views

urlpatterns: list[URLPattern | URLResolver] = [
    # The person page's vaccination history (doses_views, htmx fragment).
    re_path(r"^history/(?P<atena_no>[0-9]{1,15})/$", doses_views.history, name="dose_history"),
    # 接種記録の取込 (dose_import_views, V02): upload a clinic / medical association or VRS CSV file.
    path("import/", dose_import_views.index, name="dose_import"),
    # VRS matching (vrs_views): runs, the error list of a run, one line's resolution.
    path("vrs/", vrs_views.runs, name="vrs_runs"),
    path("vrs/<int:run_id>/", vrs_views.run, name="vrs_run"),
    path("vrs/line/<int:line_id>/", vrs_views.line, name="vrs_line"),
    # Keyed entry of 予診票 (entry_views): batches (束), the entry screen and its htmx parts, corrections.
    path("entry/", entry_views.batches, name="entry_batches"),
    path("entry/<int:batch_id>/", entry_views.batch, name="entry_batch"),
    path("entry/<int:batch_id>/check/", entry_views.check, name="entry_check"),
    path("entry/<int:batch_id>/save/", entry_views.save, name="entry_save"),
    path("entry/<int:batch_id>/reject/", entry_views.set_aside, name="entry_set_aside"),
    path("entry/<int:batch_id>/close/", entry_views.close, name="entry_close"),
    path("entry/dose/<int:dose_id>/", entry_views.correct, name="entry_correct"),
    # Statistics (stats_views, S01): the suppressed count table, its CSV, coverage by birth cohort.
    path("stats/", stats_views.index, name="stats"),
    path("stats/doses.csv", stats_views.doses_csv, name="stats_doses_csv"),
]
