"""Access-log viewer (see audit_views)."""

app_name = "audit"
urlpatterns: list = []
