from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "yobo.exports"
    label = "exports"
    verbose_name = "外部媒体への出力 (媒体管理)"
    default_auto_field = "django.db.models.BigAutoField"
