from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "yobo.governance"
    label = "governance"
    verbose_name = "保存・削除・開示請求・PIA"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .builtins import register_all

        register_all()
