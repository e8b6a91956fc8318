"""Cursor pagination: stable under concurrent inserts, constant cost at any depth."""

from functools import cache

from rest_framework.pagination import CursorPagination


class DefaultCursorPagination(CursorPagination):
    """Newest first by primary key unless a view says otherwise; ``?page_size=`` up to 500."""

    ordering = "-pk"
    page_size_query_param = "page_size"
    max_page_size = 500


@cache
def cursor_pagination(*ordering: str) -> type[DefaultCursorPagination]:
    """A cursor pagination class ordered by ``ordering`` (which must be unique overall)."""
    return type(
        "CursorPagination_" + "_".join(field.strip("-") for field in ordering),
        (DefaultCursorPagination,),
        {"ordering": ordering},
    )
