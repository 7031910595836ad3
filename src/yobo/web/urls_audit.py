"""Access-log viewer (see audit_views)."""

from django.urls import path

from . import audit_views

app_name = "audit"
urlpatterns = [
    path("", audit_views.log_list, name="log"),
    path("verify/", audit_views.verify_now, name="verify"),
]
