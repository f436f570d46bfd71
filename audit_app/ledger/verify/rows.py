"""Evidence rows read in batches, as records: one query per kind per chunk of entries, never one per entry.

The slow path: only entries the serialized fast path (``serialized.py``) could not verify come here.

The record built here from a stored row is ``records.evidence_record`` of that row (same columns, same value
forms); it is built from plain column values because making model instances would cost more than all the
hashing. Binary columns are hashed by PostgreSQL, so document bytes never travel.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Iterable
from typing import Any

from django.db import connection, models

from audit_app.ledger.records import HASH_FIELDS, OMITTED_WHEN_EMPTY, _value
from audit_app.ledger.verify.fastjson import compact
from audit_app.models import (
    AccessEvent,
    AccountEvent,
    ApiKeyEvent,
    Document,
    KillSwitchEvent,
    LedgerVerification,
    ReportCertificate,
    ReportExport,
    ReviewerConclusion,
    RunRecord,
    SigningFailure,
    SignOff,
    Submission,
)

# Ledger kind (the part of an entry's subject before ``:``) → the evidence table its rows live in.
EVIDENCE: dict[str, type[models.Model]] = {
    "submission": Submission,
    "run": RunRecord,
    "kill_switch": KillSwitchEvent,
    "access": AccessEvent,
    "verification": LedgerVerification,
    "signoff": SignOff,
    "conclusion": ReviewerConclusion,
    "signing_failure": SigningFailure,
    "account": AccountEvent,
    "api_key": ApiKeyEvent,
    "report": ReportExport,
    "report_certificate": ReportCertificate,
}


_INT_CHARS = b"0123456789-, []"


def _compact_int_list(text: Any) -> bytes | None:
    """The compact JSON of jsonb's text of a flat list of safe integers ("[1, 2, 3]" → b"[1,2,3]"), else None.

    jsonb writes such a list with ", " between numbers that have no leading zeros, no exponent and no
    "-0", so without those spaces it is the JSON the C encoder and RFC 8785 write. Token lists are most of
    a run record: taking their bytes as they come saves decoding and re-encoding them. (Doing this in SQL
    cost PostgreSQL more than the whole row.)
    """
    if not isinstance(text, str) or not text.isascii():
        return None
    raw = text.encode()
    if raw[:1] != b"[" or raw[-1:] != b"]" or raw.translate(None, _INT_CHARS) or raw.count(b"[") != 1:
        return None
    if raw.count(b"]") != 1:
        return None
    inner = raw[1:-1]
    if inner and max(map(len, inner.replace(b"-", b"").split(b", "))) > 15:  # 15 digits stay below 2**53
        return None
    return b"[" + inner.replace(b", ", b",") + b"]"


class Row:
    """One stored row: plain columns converted at once, JSON columns kept as text until needed."""

    __slots__ = ("_content", "_ints", "_json", "_record", "_spec", "pk", "plain")

    def __init__(self, spec: _Spec, values: tuple[Any, ...]) -> None:
        self._spec = spec
        self.plain: dict[str, Any] = {}
        self._json: dict[str, Any] = {}  # JSON columns as the database's text
        self._ints: dict[str, bytes] = {}  # and, for flat lists of safe integers, their compact JSON
        for column, value in zip(spec.columns, values, strict=True):
            if column.json:
                self._json[column.attname] = value
                ints = _compact_int_list(value)
                if ints is not None:
                    self._ints[column.attname] = ints
            else:
                self.plain[column.attname] = column.convert(value)
        self.pk: int = self.plain["id"]
        self._content: dict[str, Any] | None = None
        self._record: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        return self._spec.label

    @property
    def content(self) -> dict[str, Any]:
        """Every column by attname, JSON decoded (for the derived hashes and the slow comparison)."""
        if self._content is None:
            self._content = self.plain | {name: _json(value) for name, value in self._json.items()}
        return self._content

    @property
    def record(self) -> dict[str, Any]:
        """What ``evidence_record`` gives for this row."""
        if self._record is None:
            content = self.content
            self._record = {"model": self._spec.label} | {
                name: content[name] for name in self._spec.record_names if not _omitted(name, content[name])
            }
        return self._record

    @property
    def stored(self) -> dict[str, Any]:
        """Its hash columns as stored (record_sha256, question_sha256, …)."""
        return {name: self.plain[name] for name in HASH_FIELDS if name in self.plain}

    def int_list(self, name: str) -> bytes | None:
        """The compact JSON of JSON column ``name`` if it is a list of safe integers, without decoding it."""
        return self._ints.get(name)

    def compact_record(self) -> bytes | None:
        """``fastjson.compact(self.record)``, in one encoder call, the integer lists spliced in as PostgreSQL gave them.

        Each list stands in the encoded record as a string holding NUL, which no PostgreSQL text or jsonb
        value can hold, so each stand-in occurs exactly once and the splice cannot land elsewhere.
        """
        content = self._content
        record: dict[str, Any] = {"model": self._spec.label}
        for name in self._spec.record_names:
            if name in self.plain:
                value = self.plain[name]
                if name not in OMITTED_WHEN_EMPTY or value != "":  # as _omitted, inline: this loop is hot
                    record[name] = value
            elif name in self._ints:
                record[name] = f"\0{name}"
            else:
                record[name] = content[name] if content is not None else _json(self._json[name])
        encoded = compact(record)
        if encoded is None:
            return None
        for name, ints in self._ints.items():
            stand_in = f'"\\u0000{name}"'.encode()
            if encoded.count(stand_in) != 1:
                return None
            encoded = encoded.replace(stand_in, ints)
        return encoded


@dataclasses.dataclass(frozen=True)
class _Column:
    attname: str
    select: str
    convert: Callable[[Any], Any]  # the database's value → the record's (``records._value``'s forms)
    in_record: bool
    json: bool = False


@dataclasses.dataclass(frozen=True)
class _Spec:
    label: str
    columns: list[_Column]
    record_names: list[str]  # the record's columns, in the model's order (the slow path's dict order)


def _omitted(name: str, value: Any) -> bool:
    """As ``evidence_record``: a column added later is not in the record while it is empty."""
    return name in OMITTED_WHEN_EMPTY and value == ""


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value  # Django reads jsonb as text


def _hashed(value: str | None) -> Any:
    return None if value is None else {"sha256": value}


def _plain(value: Any) -> Any:
    return value


@functools.cache
def _spec(model: type[models.Model]) -> _Spec:
    columns = []
    for field in model._meta.concrete_fields:
        quoted = connection.ops.quote_name(field.column or field.attname)
        select, convert, is_json = quoted, _value, False
        if isinstance(field, models.BinaryField):
            select, convert = f"encode(sha256({quoted}), 'hex')", _hashed
        elif isinstance(field, models.DateTimeField) and not field.null:
            # Python has no year 0 or 10000: such an edited date reads as NULL, which never equals a ledgered
            # one, so the row is named instead of the walk crashing. (Evidence dates are never NULL.)
            in_range = f"{quoted} >= '0001-01-01 00:00:00+00' AND {quoted} < '10000-01-01 00:00:00+00'"
            select = f"CASE WHEN {in_range} THEN {quoted} END"
        elif isinstance(field, models.JSONField):
            convert, is_json = _json, True
        elif isinstance(field, models.CharField | models.TextField | models.IntegerField | models.BooleanField):
            convert = _plain  # _value leaves these as they are; skipping it is what makes a million rows cheap
        in_record = field.name not in HASH_FIELDS and not field.primary_key
        columns.append(_Column(field.attname, select, convert, in_record, is_json))
    names = [c.attname for c in columns if c.in_record]
    return _Spec(model._meta.label_lower, columns, names)


def fetch_rows(model: type[models.Model], where: str, params: list[Any]) -> list[Row]:
    """Rows of ``model`` matching the SQL condition ``where``, in one query."""
    spec = _spec(model)
    sql = f"SELECT {', '.join(c.select for c in spec.columns)} FROM {model._meta.db_table} WHERE {where}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    return [Row(spec, values) for values in fetched]


def rows_by_id(model: type[models.Model], ids: Iterable[int]) -> dict[int, Row]:
    return {row.pk: row for row in fetch_rows(model, "id = ANY(%s)", [list(ids)])}


def documents_by_submission(submission_ids: Iterable[int]) -> dict[int, list[Row]]:
    found: dict[int, list[Row]] = {}
    for row in fetch_rows(Document, "submission_id = ANY(%s) ORDER BY submission_id, position", [list(submission_ids)]):
        found.setdefault(row.plain["submission_id"], []).append(row)
    return found
