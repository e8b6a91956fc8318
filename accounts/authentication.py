"""``Authorization: Bearer <key>`` authentication against hashed ApiTokens."""

import pghistory
from django.utils import timezone
from rest_framework import authentication, exceptions

from accounts.models import ApiToken, hash_token_key

# Writing last_used_at on every request would turn each read into a write; once a minute is
# precise enough to audit which tokens are in use.
LAST_USED_RESOLUTION_SECONDS = 60


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace").lower() != self.keyword.lower():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: expected 'Bearer <token>'.")
        key = header[1].decode(errors="replace")
        token = ApiToken.objects.select_related("user").filter(key_hash=hash_token_key(key)).first()
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("Token revoked.")
        if not token.is_usable:
            raise exceptions.AuthenticationFailed("Token expired.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive.")
        # The audit context opened by the middleware saw an anonymous user (DRF authenticates
        # later, in the view); name the token's user now so edits are attributed.
        pghistory.context(user=token.user.pk)
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'


def request_via(request) -> str:
    """How a request was authenticated, for records of who did what: "token NAME", or "" (a session)."""
    token = getattr(request, "auth", None)
    return f"token {token.name}" if isinstance(token, ApiToken) else ""
