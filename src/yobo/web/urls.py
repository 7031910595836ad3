"""URL map of the staff web UI. Each area keeps its views in its own module of this app."""

from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("", include("yobo.web.urls_access")),
    path("audit/", include("yobo.web.urls_audit")),
    path("people/", include("yobo.web.urls_people")),
]
