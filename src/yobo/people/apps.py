from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "yobo.people"
    label = "people"
    verbose_name = "宛名 (住民記録)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # A 住登外者 switched to the register's 宛名番号: these records follow (decision 056).
        from .models import PersonHistory, ProtectedPerson, ProtectionRequest, UseSuspension
        from .switch import follow

        follow("people.person", (PersonHistory, "atena_no"), (ProtectedPerson, "atena_no"),
               (ProtectionRequest, "atena_no"), (UseSuspension, "atena_no"))
        from .governance_hooks import register  # retention and disclosure (decision 092)

        register()
        from .jukinet import register_kind  # the 住基ネット query file, an approved-export kind

        register_kind()
