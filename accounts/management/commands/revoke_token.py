"""``manage.py revoke_token USERNAME --name N``: revoke a user's named tokens."""

from django.core.management.base import BaseCommand, CommandError

from accounts.services import token_revoke, user_by_username
from labcore.exceptions import NotFound


class Command(BaseCommand):
    help = "Revoke USERNAME's live tokens called NAME (default: 'default')."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="default")

    def handle(self, *args, username, name, **options):
        try:
            user = user_by_username(username)
        except NotFound as exc:
            raise CommandError(str(exc)) from None
        count = token_revoke(user=user, name=name)
        self.stdout.write(f"revoked {count} token(s) named {name!r} of {username}")
