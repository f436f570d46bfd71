"""Glassbox's Django side: submissions, jobs, run records, the analyst UI and the Celery pipeline."""

from audit_app.celery import app as celery_app

__all__ = ["celery_app"]
