from django.apps import AppConfig


class ReliefConfig(AppConfig):
    name = "yobo.relief"
    label = "relief"
    verbose_name = "健康被害救済"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .governance_hooks import register  # retention and disclosure (decision 092)

        register()
