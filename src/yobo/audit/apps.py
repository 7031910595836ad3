"""The access log (アクセスログ): append-only, hash-chained, signed checkpoints, verification, review."""
from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "yobo.audit"
    label = "audit"
    verbose_name = "アクセスログ"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from .guards import on_connection_created, testing

        if testing():
            connection_created.connect(on_connection_created, dispatch_uid="yobo.audit.guards")
