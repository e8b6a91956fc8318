"""Keyset cursor pagination on a unique compound ordering, e.g. ``(started_at, id)``.

DRF's CursorPagination positions its cursor on the first ordering field only and skips ties
with an offset, which costs more the more rows share a timestamp and can repeat a row when one
is inserted inside a tie. Here the cursor holds the whole key of the last row sent and the next
page is ``WHERE (started_at, id) > (cursor) ORDER BY started_at, id LIMIT n``: one index range
scan, the same cost on page 1 and page 1,000, and no duplicates or gaps while rows arrive.

``?ordering=`` picks the direction by the first field (``-started_at``: newest first); the
whole key follows it, so the same index serves both directions (scanned backwards).
"""

import base64
import binascii
import json

from django.core.exceptions import ValidationError
from django.db.models import F
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from labcore.exceptions import ApplicationError


class KeysetCursorPagination(BasePagination):
    """Pages of ``page_size`` (``?page_size=`` up to ``max_page_size``) ordered by ``ordering``.

    ``ordering`` must be unique overall (end with the primary key) and all in one direction.
    """

    ordering: tuple[str, ...] = ("started_at", "id")
    page_size = 50
    max_page_size = 500
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"
    ordering_query_param = "ordering"

    def ordering_choices(self) -> list[str]:
        first = self.ordering[0].lstrip("-")
        return [first, f"-{first}"]

    def is_descending(self, request) -> bool:
        asked = request.query_params.get(self.ordering_query_param)
        if not asked:
            return self.ordering[0].startswith("-")
        if asked not in self.ordering_choices():
            choices = " or ".join(self.ordering_choices())
            raise ApplicationError(
                f"Cannot order by {asked!r}; use {choices}.",
                fields={self.ordering_query_param: [f"use {choices}"]},
            )
        return asked.startswith("-")

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.base_url = request.build_absolute_uri()
        size = self.get_page_size(request)
        fields = [name.lstrip("-") for name in self.ordering]
        descending = self.is_descending(request)
        position, self.reverse = self.decode_cursor(request, queryset.model, fields)
        # Walking backwards (a "previous" link) flips the order; the page is put right after.
        walk_descending = descending != self.reverse
        queryset = queryset.order_by(*[("-" if walk_descending else "") + name for name in fields])
        if position is not None:
            lookup = TupleLessThan if walk_descending else TupleGreaterThan
            queryset = queryset.filter(lookup(Tuple(*[F(name) for name in fields]), tuple(position)))
        rows = list(queryset[: size + 1])
        self.has_more = len(rows) > size
        rows = rows[:size]
        if self.reverse:
            rows.reverse()
        self.fields, self.rows, self.had_cursor = fields, rows, position is not None
        return rows

    def get_page_size(self, request) -> int:
        try:
            size = int(request.query_params.get(self.page_size_query_param, self.page_size))
        except (TypeError, ValueError):
            return self.page_size
        return self.page_size if size < 1 else min(size, self.max_page_size)

    # --- cursors ------------------------------------------------------------------------------

    def decode_cursor(self, request, model, fields):
        encoded = request.query_params.get(self.cursor_query_param)
        if not encoded:
            return None, False
        try:
            data = json.loads(base64.urlsafe_b64decode(encoded.encode("ascii")))
            raw_position, reverse = data["p"], bool(data.get("r", False))
            if not isinstance(raw_position, list) or len(raw_position) != len(fields):
                raise ValueError("wrong length")
            position = []
            for name, raw in zip(fields, raw_position, strict=True):
                field = model._meta.get_field(name)
                value = field.to_python(raw)
                if value is None:
                    raise ValueError("null in cursor")
                if isinstance(value, int) and not -(2**63) <= value < 2**63:
                    raise ValueError("out of range")
                position.append(value)
        except (ValueError, TypeError, KeyError, UnicodeError, binascii.Error, ValidationError) as exc:
            raise ApplicationError("Invalid cursor.", fields={self.cursor_query_param: ["Invalid cursor."]}) from exc
        return position, reverse

    def encode_cursor(self, row, *, reverse: bool) -> str:
        position = []
        for name in self.fields:
            value = getattr(row, name)
            position.append(value.isoformat() if hasattr(value, "isoformat") else value)
        data = {"p": position, "r": 1} if reverse else {"p": position}
        encoded = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()
        return replace_query_param(self.base_url, self.cursor_query_param, encoded)

    def get_next_link(self):
        if not self.rows:
            # An empty page after a "previous" walk still leads forward from where it started.
            return None if not self.reverse else remove_query_param(self.base_url, self.cursor_query_param)
        if self.reverse or self.has_more:
            return self.encode_cursor(self.rows[-1], reverse=False)
        return None

    def get_previous_link(self):
        if not self.rows:
            return None
        if (not self.reverse and self.had_cursor) or (self.reverse and self.has_more):
            return self.encode_cursor(self.rows[0], reverse=True)
        return None

    def get_paginated_response(self, data):
        return Response({"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data})

    # --- schema ------------------------------------------------------------------------------

    def get_paginated_response_schema(self, schema):
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "The pagination cursor value (from a `next` or `previous` link).",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Number of results per page (default {self.page_size}, at most {self.max_page_size}).",
                "schema": {"type": "integer"},
            },
            {
                "name": self.ordering_query_param,
                "required": False,
                "in": "query",
                "description": f"Order by {self.ordering_choices()[0]}, ascending or (with a leading -) descending "
                f"(default {self.ordering[0]}).",
                "schema": {"type": "string", "enum": self.ordering_choices()},
            },
        ]


def keyset_pagination(*ordering: str) -> type[KeysetCursorPagination]:
    """A keyset pagination class ordered by ``ordering``."""
    return type(
        "KeysetPagination_" + "_".join(name.strip("-") for name in ordering),
        (KeysetCursorPagination,),
        {"ordering": ordering},
    )
