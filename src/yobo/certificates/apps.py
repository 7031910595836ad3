from django.apps import AppConfig


class CertificatesConfig(AppConfig):
    name = "yobo.certificates"
    label = "certificates"
    verbose_name = "接種証明書"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .governance_hooks import register  # retention and disclosure (decision 092)

        register()
