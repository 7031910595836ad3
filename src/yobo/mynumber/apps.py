from django.apps import AppConfig


class MynumberConfig(AppConfig):
    name = "yobo.mynumber"
    label = "mynumber"
    default_auto_field = "django.db.models.BigAutoField"
