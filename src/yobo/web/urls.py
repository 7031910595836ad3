"""URL map of the staff web UI. Each area keeps its views in its own module of this app."""

from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("", include("yobo.web.urls_access")),
    path("audit/", include("yobo.web.urls_audit")),
    path("people/", include("yobo.web.urls_people")),
    path("doses/", include("yobo.web.urls_doses")),
    path("notices/", include("yobo.web.urls_notices")),
    path("certificates/", include("yobo.web.urls_certificates")),
    path("exchange/", include("yobo.web.urls_exchange")),
    path("exports/", include("yobo.web.urls_exports")),
    path("governance/", include("yobo.web.urls_governance")),
    path("fees/", include("yobo.web.urls_fees")),
    path("relief/", include("yobo.web.urls_relief")),
]
