"""Issuing and revoking API tokens."""

import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiToken, hash_token_key
from labcore.exceptions import NotFound


@transaction.atomic
def token_issue(*, user, name: str = "default", expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """Create a token and return it with its clear key, which is never stored."""
    key = secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        name=name,
        prefix=key[:8],
        key_hash=hash_token_key(key),
        expires_at=timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    token.full_clean()
    token.save()
    return token, key


@transaction.atomic
def token_revoke(*, user, name: str) -> int:
    """Revoke every live token of ``user`` called ``name``; returns how many."""
    return ApiToken.objects.filter(user=user, name=name, revoked_at__isnull=True).update(revoked_at=timezone.now())


def user_by_username(username: str):
    try:
        return get_user_model().objects.get(username=username)
    except get_user_model().DoesNotExist:
        raise NotFound(f"no user named {username!r}") from None
