"""Evidence rows are inserted once and never updated or deleted through the ORM."""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models


class EvidenceImmutableError(Exception):
    """An attempt to change or delete evidence."""


class WriteOnceQuerySet(models.QuerySet[Any]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise EvidenceImmutableError(f"{self.model.__name__} rows are evidence and cannot be updated.")

    def delete(self) -> NoReturn:
        raise EvidenceImmutableError(f"{self.model.__name__} rows are evidence and cannot be deleted.")


class WriteOnceModel(models.Model):
    objects = WriteOnceQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise EvidenceImmutableError(f"{type(self).__name__} {self.pk} is evidence and cannot be changed.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise EvidenceImmutableError(f"{type(self).__name__} {self.pk} is evidence and cannot be deleted.")
