from django.apps import AppConfig


class LabcoreConfig(AppConfig):
    name = "labcore"
    verbose_name = "LabCore"
