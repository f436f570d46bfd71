"""The record checks' fast path: PostgreSQL writes each row's record as JSON, the verifier compares bytes.

For most entries the ledgered payload is exactly ``{"kind":…,"record":R,"record_sha256":H,
"recorded_at":…,"subject":…}`` (a submission's starts with its documents and its job), where R is the
row's canonical record. So instead of turning a million rows into Python values and re-encoding them,
the verifier asks PostgreSQL for R as bytes, built from the row's columns by the built-in JSON
functions, and checks that the payload is the expected head, then R to the byte, then a tail that a
strict pattern parses. Equal bytes prove equal values only if the SQL is *faithful*: its output decodes
to the very record ``evidence_record`` gives for the row (it need not be canonical: where it is not,
the bytes differ and the entry takes the slow path, which decides). The hash columns derived from a
row are recomputed by PostgreSQL's ``sha256`` beside it, as document bytes already were.

What this trusts: PostgreSQL's own catalog functions (to read, escape and hash what it stores), never a
function or row the application's role or the schema owner could change. Anything that does not match
(a tampered row, an odd value, a forged entry) goes through ``records.check_chunk`` exactly as before.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable
from typing import NamedTuple

import psycopg
from django.db import connection, models

from audit_app.ledger.records import HASH_FIELDS, OMITTED_WHEN_EMPTY
from audit_app.models import Document, Job, RunRecord, Submission

JSON_DEPTH = 4  # nesting written canonically; deeper values are written as jsonb's text (faithful, not canonical)
# Everything after the record: the strict shape canonical_json gives the last three top-level keys.
_TAIL = re.compile(
    rb',"record_sha256":"([0-9a-f]{64})","recorded_at":"[0-9T:.+\-]{19,40}","subject":"([a-z_]+:[0-9]+)"}'
)


class Serialized(NamedTuple):
    head: bytes  # the payload's bytes before the record
    record: bytes  # the row's record as JSON, written by PostgreSQL
    record_sha256: str  # the row's stored column
    derived_ok: bool  # every derived hash column equals PostgreSQL's SHA-256 of its content
    job: int | None  # a submission's one job (the value its payload names), else None


def matches(payload: bytes, subject: bytes, row: Serialized) -> bool:
    """Whether ``payload`` is exactly the entry ``row`` should have, with every hash column right."""
    head, record = row.head, row.record
    if not (payload.startswith(head) and payload.startswith(record, len(head))):
        return False
    tail = _TAIL.fullmatch(payload, len(head) + len(record))
    if tail is None or tail[2] != subject or not row.derived_ok:
        return False
    ledgered = tail[1].decode()
    return ledgered == row.record_sha256 and hashlib.sha256(record).hexdigest() == ledgered


def serialized_rows(kind: str, model: type[models.Model], ids: Iterable[int]) -> dict[int, Serialized]:
    """Every row of ``model`` among ``ids``, serialized; one query."""
    head = f'{{"kind":"{kind}","record":'.encode()
    found: dict[int, Serialized] = {}
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:  # binary results: JSON arrives as bytes
        # JIT compiling this wide expression cost more than running it: 300 µs per row of a 1,000-row batch.
        cursor.execute("SET jit = off")
        cursor.execute(_query(model), [list(ids)], binary=True)
        for pk, row_head, record, record_sha256, derived_ok, job in cursor:
            if record is None or (model is Submission and row_head is None):
                continue  # no faithful bytes (e.g. not exactly one job): the slow path decides
            found[pk] = Serialized(row_head or head, record, record_sha256, derived_ok is True, job)
    return found


@functools.cache
def _query(model: type[models.Model]) -> str:
    table = model._meta.db_table
    json_fields = [f for f in _content_fields(model) if isinstance(f, models.JSONField)]
    texts = ", ".join(f"r.{_q(_column(f))}::text AS {_q('t_' + _column(f))}" for f in json_fields) or "1"
    canon = ", ".join(f"{_top_json(_column(f))} AS {_q('j_' + _column(f))}" for f in json_fields) or "1"
    head, job = "NULL::bytea", "NULL::bigint"
    if model is Submission:
        head = f"convert_to({_submission_head()}, 'UTF8')"
        job = _SUBMISSION_JOB
    return (
        f"SELECT r.id, {head}, convert_to({record_sql(model)}, 'UTF8'), r.record_sha256, {_derived_ok(model)}, {job} "
        f"FROM {_q(table)} r CROSS JOIN LATERAL (SELECT {canon} FROM (SELECT {texts} OFFSET 0) t OFFSET 0) j "
        "WHERE r.id = ANY(%s)"
    )


def record_sql(model: type[models.Model], alias: str = "r", json_alias: str = "j") -> str:
    """SQL for the row's evidence record as compact JSON, keys sorted; JSON columns from ``json_alias``."""
    parts = {"model": f"'\"model\":' || {_literal(_json_string(model._meta.label_lower))}"}
    for field in _content_fields(model):
        value = _value_sql(field, alias, json_alias)
        part = f"'\"{field.attname}\":' || {value}"
        if field.attname in OMITTED_WHEN_EMPTY:  # left out while empty, as evidence_record does
            part = f"CASE WHEN {alias}.{_q(_column(field))} = '' THEN NULL ELSE {part} END"
        parts[field.attname] = part
    # concat_ws skips the NULL of an omitted column, commas included.
    return "'{' || concat_ws(',', " + ", ".join(parts[name] for name in sorted(parts)) + ") || '}'"


def _content_fields(model: type[models.Model]) -> list[models.Field]:  # type: ignore[type-arg]
    return [f for f in model._meta.concrete_fields if f.name not in HASH_FIELDS and not f.primary_key]


def _value_sql(field: models.Field, alias: str, json_alias: str) -> str:  # type: ignore[type-arg]
    column = f"{alias}.{_q(_column(field))}"
    if isinstance(field, models.JSONField):
        return f"{json_alias}.{_q('j_' + _column(field))}"
    if isinstance(field, models.DateTimeField):
        return _timestamp(column)
    if isinstance(field, models.BinaryField):
        digest = f"encode(sha256({column}), 'hex')"
        return f"CASE WHEN {column} IS NULL THEN 'null' ELSE '{{\"sha256\":\"' || {digest} || '\"}}' END"
    if isinstance(
        field, models.CharField | models.TextField | models.IntegerField | models.BooleanField | models.ForeignKey
    ):
        return f"coalesce(to_json({column})::text, 'null')"
    raise TypeError(f"{field!r}: no faithful SQL form; add one before ledgering such a column.")


_AS_TO_JSON = (models.CharField, models.TextField, models.IntegerField, models.BooleanField, models.ForeignKey)


def _timestamp(column: str) -> str:
    """``value.astimezone(UTC).isoformat()`` for the years Python has; anything else is not JSON, so never equal."""
    text = f"replace(to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), '.000000', '')"
    return (
        f"CASE WHEN {column} IS NULL THEN 'null' "
        f"WHEN {column} >= '0001-01-01 00:00:00+00' AND {column} < '10000-01-01 00:00:00+00' "
        f"THEN '\"' || {text} || '+00:00\"' ELSE '?' END"
    )


def _top_json(column: str) -> str:
    """A JSON column: the jsonb text with ``, `` made ``,`` when it holds no string and no decimal point
    (token id lists: then ``, `` can only be jsonb's separator), else written value by value."""
    text = f"t.{_q('t_' + column)}"
    return (
        f"CASE WHEN {text} IS NULL THEN 'null' "
        f"WHEN strpos({text}, '\"') = 0 AND strpos({text}, '.') = 0 THEN replace({text}, ', ', ',') "
        f"ELSE {_json(f'r.{_q(column)}', JSON_DEPTH)} END"
    )


def _json(value: str, depth: int) -> str:
    """Canonical-where-it-can JSON of the jsonb ``value``: keys sorted, numbers without trailing zeros.

    Past ``depth`` levels the jsonb text itself is used: faithful (it decodes to the same value), so a
    deep value never makes a false match, only a slow one.
    """
    if depth == 0:
        return f"{value}::text"
    inner = depth - 1
    return (
        f"CASE jsonb_typeof({value}) "
        f"WHEN 'object' THEN coalesce((SELECT '{{' || string_agg(to_json(k)::text || ':' || {_json('v', inner)}, ',' "
        f"ORDER BY k COLLATE \"C\") || '}}' FROM jsonb_each({value}) AS e{depth}(k, v)), '{{}}') "
        f"WHEN 'array' THEN coalesce((SELECT '[' || string_agg({_json('v', inner)}, ',' ORDER BY n) || ']' "
        f"FROM jsonb_array_elements({value}) WITH ORDINALITY AS a{depth}(v, n)), '[]') "
        f"WHEN 'number' THEN CASE WHEN strpos({value}::text, '.') > 0 "
        f"THEN rtrim(rtrim({value}::text, '0'), '.') ELSE {value}::text END "
        f"ELSE {value}::text END"
    )


def _derived_ok(model: type[models.Model]) -> str:
    if model is Submission:
        return f"r.question_sha256 = {_sha('r.question')}"
    if model is RunRecord:
        return (
            f"r.prompt_sha256 = encode(sha256(convert_to(j.j_prompt_token_ids, 'UTF8')), 'hex') "
            f"AND r.thinking_sha256 = {_sha('r.thinking')} AND r.answer_sha256 = {_sha('r.answer')}"
        )
    return "true"


def _sha(text: str) -> str:
    return f"encode(sha256(convert_to({text}, 'UTF8')), 'hex')"


def _submission_head() -> str:
    """``{"documents":[…],"job":N,"kind":"submission","record":`` from the document and job rows."""
    documents = (
        f"SELECT coalesce(string_agg({record_sql(Document, 'd', 'dj')}, ',' ORDER BY d.position), '') "
        f"FROM {_q(Document._meta.db_table)} d WHERE d.submission_id = r.id"
    )
    job = f"({_SUBMISSION_JOB})::text"
    return f"""'{{"documents":[' || ({documents}) || '],"job":' || {job} || ',"kind":"submission","record":'"""


# The job a submission's payload names: only when exactly one job row points at it (else no match).
_SUBMISSION_JOB = (
    f"(SELECT CASE WHEN count(*) = 1 THEN min(jb.id) END FROM {Job._meta.db_table} jb WHERE jb.submission_id = r.id)"
)


@functools.cache
def _json_string(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _column(field: models.Field) -> str:  # type: ignore[type-arg]
    return str(field.column)


def _q(name: str) -> str:
    return connection.ops.quote_name(name)
