from django.apps import AppConfig


class ExchangeConfig(AppConfig):
    name = "yobo.exchange"
    label = "exchange"
    verbose_name = "情報連携 (中間サーバー)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # A 住登外者 switched to the register's 宛名番号: these records follow (decision 056).
        from yobo.people.switch import follow

        from .models import CopyEntry, LinkageCode, Provision, Query

        follow("exchange.person", (LinkageCode, "atena_no"), (CopyEntry, "atena_no"), (Query, "atena_no"),
               (Provision, "atena_no"))
        from .governance_hooks import register  # retention and disclosure (decision 092)

        register()
