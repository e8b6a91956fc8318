"""A Django database backend: PostgreSQL on the embedded server, started on first connection.

With no ``DATABASE_URL`` the settings name this backend instead of starting the server at
import, so a ``manage.py`` command that never touches the database (``--help``, ``check``
without database tags, ``spectacular``) does not start it (issue 15, item 12).
"""
