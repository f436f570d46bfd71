"""Deactivate (or reactivate) an account: accounts are never deleted, so user ids are never reused."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit_app.services.users import UserChangeRefused, command_actor, set_active, user_by_name


class Command(BaseCommand):
    help = "Deactivate USERNAME (no log-in, no signing, no review scope, no mail); --reactivate undoes it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--reactivate", action="store_true", help="make the account active again")

    def handle(self, *args: Any, **options: Any) -> None:
        active = bool(options["reactivate"])
        try:
            user = set_active(command_actor(), user_by_name(options["username"]).pk, active)
        except UserChangeRefused as refusal:
            raise CommandError(str(refusal)) from None
        self.stdout.write(f"{user.get_username()} is now {'active' if active else 'deactivated'}.")
