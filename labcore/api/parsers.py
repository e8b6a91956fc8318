"""The API's JSON parser."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class LabJSONParser(JSONParser):
    """DRF's JSON parser, with JSON nested too deep for Python's decoder a 400 instead of a 500.

    ``json.loads`` raises RecursionError (not the ValueError DRF catches) on ``[[[[...]]]]``
    some thousand levels deep, which any client can send.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply.") from exc
