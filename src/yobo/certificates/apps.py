from django.apps import AppConfig


class CertificatesConfig(AppConfig):
    name = "yobo.certificates"
    label = "certificates"
    verbose_name = "接種証明書"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # A 住登外者 switched to the register's 宛名番号: these records follow (decision 056).
        from yobo.people.switch import follow

        from .models import Application, Certificate

        follow("certificates.certificate", (Application, "atena_no"), (Certificate, "atena_no"))
        from .governance_hooks import register  # retention and disclosure (decision 092)

        register()
