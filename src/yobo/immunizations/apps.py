from django.apps import AppConfig


class ImmunizationsConfig(AppConfig):
    name = "yobo.immunizations"
    label = "immunizations"
    verbose_name = "接種記録 (接種履歴)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # A 住登外者 switched to the register's 宛名番号: these records follow (decision 056).
        from yobo.people.switch import follow

        from .models import Dose, DoseCorrection
        from .models_vrs import VrsMatchLine

        follow("immunizations.dose", (Dose, "atena_no"), (DoseCorrection, "atena_no"), (VrsMatchLine, "atena_no"))
        from .vrs_export import register_kinds  # the approved-export kinds of the VRS upload and error list

        register_kinds()
        from .governance_hooks import register  # retention, disclosure and corrections (decision 092)

        register()
