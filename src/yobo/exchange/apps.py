from django.apps import AppConfig


class ExchangeConfig(AppConfig):
    name = "yobo.exchange"
    label = "exchange"
    verbose_name = "情報連携 (中間サーバー)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .governance_hooks import register  # retention and disclosure (decision 092)

        register()
