from __future__ import annotations

from django.conf import settings
from django.db import models

DOMAINS = [("legal", "Legal"), ("finance", "Finance"), ("clinical", "Clinical")]
# Roles are Django groups of these names (migration 0002); what each may do: docs/oversight.md.
ANALYST, REVIEWER, AUDITOR, OPERATOR = "analyst", "reviewer", "auditor", "operator"


class Team(models.Model):
    """Analysts see only their team's cases and jobs."""

    name = models.CharField(max_length=100, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams", blank=True)

    def __str__(self) -> str:
        return self.name


class Case(models.Model):
    """A matter in the organisation's own case system, known here by its external reference."""

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="cases")
    reference = models.CharField(max_length=100)
    domain = models.CharField(max_length=20, choices=DOMAINS)
    title = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "reference"], name="case_reference_unique_per_team")]

    def __str__(self) -> str:
        return self.reference
