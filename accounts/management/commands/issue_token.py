"""``manage.py issue_token USERNAME``: print a new API token for an existing user."""

from django.core.management.base import BaseCommand, CommandError

from accounts.services import token_issue, user_by_username
from labcore.exceptions import NotFound

# Ten years: a longer lifetime is no expiry at all (and overflows date arithmetic past year 9999).
MAX_EXPIRY_DAYS = 3650


class Command(BaseCommand):
    help = "Print a new bearer token for USERNAME (no token is created for an unknown user)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="default", help="a label to tell this user's tokens apart")
        parser.add_argument("--expires", type=int, default=None, metavar="DAYS", help="expire after DAYS days")

    def handle(self, *args, username, name, expires, **options):
        try:
            user = user_by_username(username)
        except NotFound as exc:
            raise CommandError(f"{exc}; no token created.") from None
        if expires is not None and not 0 < expires <= MAX_EXPIRY_DAYS:
            raise CommandError(f"--expires must be a number of days from 1 to {MAX_EXPIRY_DAYS}.")
        _, key = token_issue(user=user, name=name, expires_in_days=expires)
        self.stdout.write(key)
