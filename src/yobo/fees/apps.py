from django.apps import AppConfig


class FeesConfig(AppConfig):
    name = "yobo.fees"
    label = "fees"
    verbose_name = "実費徴収・委託料"
    default_auto_field = "django.db.models.BigAutoField"
