"""Cursor pagination: stable under concurrent inserts, constant cost at any depth."""

from functools import cache

from django.core.exceptions import FieldDoesNotExist, ValidationError
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination

from labcore.exceptions import ApplicationError


class DefaultCursorPagination(CursorPagination):
    """Newest first by primary key unless a view says otherwise; ``?page_size=`` up to 500.

    A cursor is opaque to clients but only base64 to an attacker: its position is checked
    against the ordering field before it reaches a query (``p=x`` for an integer key was a
    ValueError 500, a NUL in a text key a PostgreSQL DataError 500), and every bad cursor is a
    400 naming ``cursor``, as on the execution log, rather than DRF's 404.
    """

    ordering = "-pk"
    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            cursor = None
            self._invalid_cursor()
        if cursor is not None and cursor.position is not None:
            self._position_check(cursor.position)
        return cursor

    def _position_check(self, position: str) -> None:
        if "\x00" in position:
            self._invalid_cursor()
        name = self.ordering[0].lstrip("-")
        try:
            field = self._model._meta.pk if name == "pk" else self._model._meta.get_field(name)
        except FieldDoesNotExist:
            return  # an annotation: nothing to check it against
        try:
            field.to_python(position)
        except (ValidationError, TypeError, ValueError):
            self._invalid_cursor()

    def _invalid_cursor(self):
        raise ApplicationError("Invalid cursor.", fields={self.cursor_query_param: ["Invalid cursor."]})


@cache
def cursor_pagination(*ordering: str) -> type[DefaultCursorPagination]:
    """A cursor pagination class ordered by ``ordering`` (which must be unique overall)."""
    return type(
        "CursorPagination_" + "_".join(field.strip("-") for field in ordering),
        (DefaultCursorPagination,),
        {"ordering": ordering},
    )
