from django.apps import AppConfig


class ExecutionLogsConfig(AppConfig):
    name = "executionlogs"
    verbose_name = "Execution logs and cell analysis"
