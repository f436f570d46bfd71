"""Create the demo team and one user per role, with fresh passwords printed once."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from django.db import transaction

from audit_app.models import Team

ROLES = ("analyst", "reviewer", "auditor", "operator")


class Command(BaseCommand):
    help = "Create (or reset) the demo users: one per role, in the team 'Demo team'."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            team, _ = Team.objects.get_or_create(name="Demo team")
            lines = []
            for role in ROLES:
                user, _ = User.objects.get_or_create(username=role)
                password = secrets.token_urlsafe(9)
                user.set_password(password)
                user.save()
                user.groups.set([Group.objects.get_or_create(name=role)[0]])
                if role in ("analyst", "reviewer"):
                    team.members.add(user)
                lines.append(f"  {role:<9} password {password}")
        self.stdout.write("Demo users (passwords are new each start):\n" + "\n".join(lines))
