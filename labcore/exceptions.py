"""Domain errors. Services raise these; one API exception handler maps them to HTTP."""


class ApplicationError(Exception):
    """Bad input a client can correct (HTTP 400). ``fields`` names the offending fields."""

    status_code = 400
    error = "invalid"

    def __init__(self, message: str, *, fields: dict | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class ConflictError(ApplicationError):
    """The request is valid but the current state forbids it (HTTP 409)."""

    status_code = 409
    error = "conflict"


class NotFound(ApplicationError):
    """An id that names nothing (HTTP 404)."""

    status_code = 404
    error = "not_found"


class PermissionDeniedError(ApplicationError):
    """Authenticated, but this may not be done now (HTTP 403): a wrong signing password, a locked signature."""

    status_code = 403
    error = "permission_denied"
