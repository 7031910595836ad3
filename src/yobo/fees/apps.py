from django.apps import AppConfig


class FeesConfig(AppConfig):
    name = "yobo.fees"
    label = "fees"
    verbose_name = "実費徴収・委託料"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # fees is above exchange in the layers: it offers its tax status to the exchange and takes the
        # answers to its tax queries through registered functions (decision 083).
        from yobo.exchange import registry
        from yobo.exchange.items import RESIDENT_TAX

        from . import selectors, services

        registry.register_provider(RESIDENT_TAX.code, selectors.tax_status_for_exchange)
        registry.register_consumer(RESIDENT_TAX.code, services.apply_exchange_answer)
        from .governance_hooks import register  # retention and disclosure (decision 092)

        register()
