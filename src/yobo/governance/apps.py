from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "yobo.governance"
    label = "governance"
    verbose_name = "保存・削除・開示請求・PIA"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # A 住登外者 switched to the register's 宛名番号: these records follow (decision 056).
        from yobo.people.switch import follow

        from .models import ResidentRequest

        follow("governance.resident_request", (ResidentRequest, "atena_no"))
        from .builtins import register_all

        register_all()
