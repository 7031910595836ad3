from django.apps import AppConfig


class FeesConfig(AppConfig):
    name = "yobo.fees"
    label = "fees"
    verbose_name = "実費徴収・委託料"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # A 住登外者 switched to the register's 宛名番号: these records follow (decision 056).
        from yobo.people.switch import follow

        from .models import ClaimLine, ExemptionDecision, StatusRecord, TaxQuery

        follow("fees.person", (StatusRecord, "atena_no"), (ExemptionDecision, "atena_no"), (TaxQuery, "atena_no"),
               (ClaimLine, "atena_no", "claim__municipality"))
        # fees is above exchange in the layers: it offers its tax status to the exchange and takes the
        # answers to its tax queries through registered functions (decision 083).
        from yobo.exchange import registry
        from yobo.exchange.items import RESIDENT_TAX

        from . import selectors, services

        registry.register_provider(RESIDENT_TAX.code, selectors.tax_status_for_exchange)
        registry.register_consumer(RESIDENT_TAX.code, services.apply_exchange_answer)
        from .governance_hooks import register  # retention and disclosure (decision 092)

        register()
