"""Create the demo team and its users (two reviewers, for four eyes), with fresh passwords printed once."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from django.db import transaction

from audit_app.models import ReviewerAssignment, Team
from audit_app.models.organisation import DOMAINS
from audit_app.services.users import assign_reviewer

# username, role, first and last name (the printed name on signatures, 21 CFR 11.50)
USERS = (
    ("analyst", "analyst", "Ada", "Analyst"),
    ("reviewer", "reviewer", "Rita", "Reviewer"),
    ("reviewer2", "reviewer", "Rolf", "Second-Reviewer"),
    ("auditor", "auditor", "Aude", "Auditor"),
    ("operator", "operator", "Otto", "Operator"),
)


class Command(BaseCommand):
    help = "Create (or reset) the demo users: an analyst of 'Demo team', two reviewers of its jobs, auditor, operator."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            team, _ = Team.objects.get_or_create(name="Demo team")
            lines = []
            for username, role, first, last in USERS:
                user, _ = User.objects.get_or_create(username=username)
                password = secrets.token_urlsafe(9)
                user.set_password(password)
                user.first_name, user.last_name, user.email = first, last, f"{username}@demo.invalid"
                user.is_active = True
                user.save()
                user.groups.set([Group.objects.get_or_create(name=role)[0]])
                if role == "analyst":
                    team.members.add(user)
                if role == "reviewer":
                    # Reviewers see the team's jobs through their review scope, not as members of the team.
                    team.members.remove(user)
                    held = set(ReviewerAssignment.objects.filter(user=user, team=team).values_list("domain", flat=True))
                    missing = [domain for domain, _label in DOMAINS if domain not in held]
                    if missing:  # through the service: each assignment is a ledgered account event
                        assign_reviewer("seed_demo", user, team.name, missing)
                lines.append(f"  {username:<9} password {password}  ({first} {last}, {role})")
        self.stdout.write("Demo users (passwords are new each start):\n" + "\n".join(lines))
