"""Create, list and revoke API keys of case systems; creation prints the key once."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from audit_app.models import ApiKey, Team
from audit_app.services.api_keys import KeyRefused, create_key, revoke_key
from audit_app.services.users import command_actor
from audit_app.services.webhook_guard import UrlRefused
from audit_app.services.webhooks import remove_webhook, set_webhook


class Command(BaseCommand):
    help = (
        "API keys: 'create NAME --team T [--scopes read,submit] [--expires-days N]', 'list', 'revoke PREFIX', "
        "'webhook PREFIX --url URL | --remove'."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="a new key; prints it once")
        create.add_argument("name", help="the case system that will use the key")
        create.add_argument("--team", required=True, help="the team whose jobs the key submits and reads")
        create.add_argument("--scopes", default="read,submit", help="read, submit or both (default both)")
        create.add_argument("--expires-days", type=int, default=None, help="days until the key stops working")
        actions.add_parser("list", help="every key with its state (never the secret)")
        revoke = actions.add_parser("revoke", help="revoke a key now")
        revoke.add_argument("prefix", help="the key's prefix, gbx_ and 8 hex digits")
        webhook = actions.add_parser("webhook", help="set, replace or remove a key's callback URL")
        webhook.add_argument("prefix", help="the key's prefix, gbx_ and 8 hex digits")
        target = webhook.add_mutually_exclusive_group(required=True)
        target.add_argument("--url", help="where events go; a new signing secret is printed once")
        target.add_argument("--remove", action="store_true", help="send this key no more events")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except (KeyRefused, UrlRefused) as refusal:
            raise CommandError(str(refusal)) from None

    def _create(self, options: dict[str, Any]) -> None:
        team = Team.objects.filter(name=options["team"]).first()
        if team is None:
            teams = ", ".join(Team.objects.values_list("name", flat=True))
            raise CommandError(f"No team is called {options['team']!r}; teams: {teams}.")
        days = options["expires_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-days must be 1 or more.")
        expires = timezone.now() + datetime.timedelta(days=days) if days else None
        actor = command_actor()
        new = create_key(options["name"], team, options["scopes"], None, actor, expires_at=expires)
        self.stdout.write(f"Created key {new.key.prefix} for {team.name} ({new.key.scopes}). Shown once, store it now:")
        self.stdout.write(new.secret)

    def _list(self, options: dict[str, Any]) -> None:
        for key in ApiKey.objects.select_related("team", "user"):
            state = key.state()
            used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
            self.stdout.write(
                f"{key.prefix}  {state:8}  {key.team.name}  {key.scopes:12}  last used {used}  {key.name}"
            )

    def _revoke(self, options: dict[str, Any]) -> None:
        key = ApiKey.objects.filter(prefix=options["prefix"]).first()
        if key is None:
            raise CommandError(f"No key has the prefix {options['prefix']!r}; 'manage.py api_key list' shows them.")
        revoke_key(key, None, command_actor())
        self.stdout.write(f"Revoked {key.prefix} ({key.name}).")

    def _webhook(self, options: dict[str, Any]) -> None:
        key = ApiKey.objects.filter(prefix=options["prefix"]).first()
        if key is None:
            raise CommandError(f"No key has the prefix {options['prefix']!r}; 'manage.py api_key list' shows them.")
        if options["remove"]:
            removed = remove_webhook(key, command_actor())
            self.stdout.write(f"Removed the webhook of {key.prefix}." if removed else f"{key.prefix} had no webhook.")
            return
        new = set_webhook(key, options["url"], command_actor())
        self.stdout.write(
            f"Webhook of {key.prefix} set to {new.endpoint.url}. Signing secret, shown once, store it now:"
        )
        self.stdout.write(new.secret)
