"""Give a reviewer a review scope (a team's jobs in a domain), or take it away: the admin-managed scope."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit_app.services.users import (
    DOMAIN_NAMES,
    UserChangeRefused,
    assign_reviewer,
    command_actor,
    remove_assignment,
    user_by_name,
)


class Command(BaseCommand):
    help = (
        "Let reviewer USERNAME review team NAME's jobs in domain D (repeat --domain for several); "
        "--remove takes it away."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--team", required=True, help="the team's name")
        parser.add_argument(
            "--domain", required=True, action="append", help=f"one of {', '.join(DOMAIN_NAMES)}; may be repeated"
        )
        parser.add_argument("--remove", action="store_true", help="remove the assignment instead of adding it")

    def handle(self, *args: Any, **options: Any) -> None:
        domains: list[str] = list(dict.fromkeys(options["domain"]))
        try:
            user = user_by_name(options["username"])
            if options["remove"]:
                remove_assignment(command_actor(), user, options["team"], domains)
            else:
                assign_reviewer(command_actor(), user, options["team"], domains)
        except UserChangeRefused as refusal:
            raise CommandError(str(refusal)) from None
        verb = "no longer reviews" if options["remove"] else "now reviews"
        self.stdout.write(f"{user.get_username()} {verb} {options['team']} in {', '.join(domains)}.")
