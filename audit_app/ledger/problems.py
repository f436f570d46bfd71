"""What verification finds: one problem per bad row or entry, named by table and id."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Problem:
    """One thing that does not hold, e.g. ``audit_app_runrecord 7 (entry 12): differs from what was ledgered``."""

    table: str  # the database table at fault, e.g. "audit_app_runrecord", "audit_app_ledgerentry"
    row_id: str | None  # its primary key (or sequence number for entries); None for the whole table
    message: str
    sequence: int | None = None  # the ledger entry concerned, where there is one

    def __str__(self) -> str:
        where = self.table if self.row_id is None else f"{self.table} {self.row_id}"
        if self.sequence is not None:
            where += f" (entry {self.sequence})"
        return f"{where}: {self.message}"
