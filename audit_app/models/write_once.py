"""Evidence rows are inserted once and never updated or deleted through the ORM.

Rows that are evidence in the ledger (``evidence_kind`` set, or ``stored_with`` for the parts an entry
carries, such as a submission's documents) are inserted only inside ``store_evidence``
(``audit_app/services/store.py``), which writes the row, its record hash and its ledger entry in one
transaction. Any other insert through the ORM raises ``EvidenceWriteError``, so a new writer cannot
forget the entry: it fails the first time it runs. (SQL from outside the application is what
``verify_ledger`` is for.)
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any, ClassVar, NoReturn

from django.db import models


class EvidenceImmutableError(Exception):
    """An attempt to change or delete evidence."""


class EvidenceWriteError(Exception):
    """An attempt to insert ledgered evidence without its ledger entry (outside ``store_evidence``)."""


# The row ``store_evidence`` is storing in this thread or task right now; None otherwise.
_storing: contextvars.ContextVar[models.Model | None] = contextvars.ContextVar("glassbox_storing", default=None)


@contextlib.contextmanager
def storing(row: WriteOnceModel) -> Iterator[None]:
    """Let ``row`` and its parts be inserted; for ``store_evidence`` alone (an import contract says so)."""
    token = _storing.set(row)
    try:
        yield
    finally:
        _storing.reset(token)


def _refuse_unledgered(model: type[WriteOnceModel], row: models.Model | None) -> None:
    current = _storing.get()
    if model.evidence_kind is not None:
        allowed = current is not None and current is row
    elif model.stored_with is not None:
        allowed = current is not None and getattr(current, "evidence_kind", None) == model.stored_with
    else:
        return
    if not allowed:
        raise EvidenceWriteError(
            f"{model.__name__} rows are ledgered evidence: insert them with store_evidence "
            "(audit_app/services/store.py), which writes the row and its ledger entry in one transaction."
        )


class WriteOnceQuerySet(models.QuerySet[Any]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise EvidenceImmutableError(f"{self.model.__name__} rows are evidence and cannot be updated.")

    def delete(self) -> NoReturn:
        raise EvidenceImmutableError(f"{self.model.__name__} rows are evidence and cannot be deleted.")

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[Any]:
        rows = list(objs)
        for row in rows:  # bulk_create skips save(): the same refusal, row by row
            _refuse_unledgered(self.model, row)
        return super().bulk_create(rows, *args, **kwargs)


class WriteOnceModel(models.Model):
    # The ledger kind of a row that is evidence on its own (``<kind>:<id>`` entries); None for the others.
    evidence_kind: ClassVar[str | None] = None
    # The kind whose entry carries this row (a document rides in its submission's entry).
    stored_with: ClassVar[str | None] = None

    objects = WriteOnceQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise EvidenceImmutableError(f"{type(self).__name__} {self.pk} is evidence and cannot be changed.")
        _refuse_unledgered(type(self), self)
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise EvidenceImmutableError(f"{type(self).__name__} {self.pk} is evidence and cannot be deleted.")
