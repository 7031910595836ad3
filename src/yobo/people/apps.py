from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "yobo.people"
    label = "people"
    verbose_name = "宛名 (住民記録)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .governance_hooks import register  # retention and disclosure (decision 092)

        register()
