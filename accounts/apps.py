from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and API tokens"

    def ready(self):
        from accounts import schema  # noqa: F401 - registers the OpenAPI auth extension
        from accounts.roles import role_permissions_sync

        # Without a sender filter: each app's permissions are created by its own post_migrate,
        # so the roles are synced again after every app (idempotent, a few queries each).
        post_migrate.connect(role_permissions_sync, dispatch_uid="accounts.role_permissions_sync")
