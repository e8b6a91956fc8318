"""The embedded PostgreSQL backend: Django's own, with the server's address filled in lazily."""

from django.db.backends.postgresql import base as postgresql

from labcore.services import embedded_connection_settings


class DatabaseWrapper(postgresql.DatabaseWrapper):
    """Django's PostgreSQL backend; the embedded server is started (or found running) the first
    time a connection is opened, and its host, port and user are filled in then."""

    def get_connection_params(self):
        self.settings_dict.update(embedded_connection_settings(self.settings_dict["NAME"]))
        return super().get_connection_params()
