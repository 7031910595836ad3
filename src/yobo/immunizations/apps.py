from django.apps import AppConfig


class ImmunizationsConfig(AppConfig):
    name = "yobo.immunizations"
    label = "immunizations"
    verbose_name = "接種記録 (接種履歴)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .vrs_export import register_kinds  # the approved-export kinds of the VRS upload and error list

        register_kinds()
        from .governance_hooks import register  # retention, disclosure and corrections (decision 092)

        register()
