from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "yobo.notices"
    label = "notices"
    verbose_name = "対象者抽出・接種券・勧奨"
    default_auto_field = "django.db.models.BigAutoField"
