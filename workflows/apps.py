from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "workflows"
    verbose_name = "Protocols and workflows"

    def ready(self):
        from workflows import signals  # noqa: F401 - connects the executor's receivers
