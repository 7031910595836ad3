from django.apps import AppConfig


class ReliefConfig(AppConfig):
    name = "yobo.relief"
    label = "relief"
    verbose_name = "健康被害救済"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # A 住登外者 switched to the register's 宛名番号: these records follow (decision 056).
        from yobo.people.switch import follow

        from .models import Claim

        follow("relief.claim", (Claim, "atena_no"), (Claim, "applicant_atena_no"))
        from .governance_hooks import register  # retention and disclosure (decision 092)

        register()
