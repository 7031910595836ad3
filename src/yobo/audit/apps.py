from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "yobo.audit"
    label = "audit"
    verbose_name = "アクセスログ"
    default_auto_field = "django.db.models.BigAutoField"
