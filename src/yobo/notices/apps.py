"""Target extraction (対象者抽出), vouchers (接種券・予診票), recommendations (接種勧奨), print batches."""
from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "yobo.notices"
    label = "notices"
    verbose_name = "対象者抽出・接種券・勧奨"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # A 住登外者 switched to the register's 宛名番号: these records follow (decision 056).
        from yobo.people.switch import follow

        from .models import Reminder, TargetEntry, Voucher

        follow("notices.notice", (TargetEntry, "atena_no", "target_list__municipality"), (Voucher, "atena_no"),
               (Reminder, "atena_no"))
        from yobo.exports import registry

        from .services import MAILING_ITEMS, MAILING_KIND

        if registry.get(MAILING_KIND) is None:
            registry.register(registry.ExportKind(
                code=MAILING_KIND, label="接種券・勧奨通知の発送ファイル（印刷・封入封緘委託）",
                items=MAILING_ITEMS, purposes=frozenset({"N02", "N03"}), target_column=None,
            ))
        from .governance_hooks import register  # retention and disclosure (decision 092)

        register()
