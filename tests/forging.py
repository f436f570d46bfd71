"""Rows inserted the way someone with the app role's INSERT grant would: no ``store_evidence``, no entry.

``Model.save`` of Django itself, below the write-once model's refusal, stands in for an INSERT statement
typed at a database prompt; tests use it to show that such rows are named and never shown as evidence.
"""

from __future__ import annotations

from typing import TypeVar

from django.db import models

Row = TypeVar("Row", bound=models.Model)


def insert_unledgered(row: Row) -> Row:
    models.Model.save(row, force_insert=True)
    return row
