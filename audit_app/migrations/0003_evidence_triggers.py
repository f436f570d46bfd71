"""Database-level immutability: evidence and ledger tables refuse UPDATE, DELETE and TRUNCATE.

The ORM already refuses; these triggers also stop raw SQL, other clients and mistakes. Django's
test runner empties tables with TRUNCATE between tests, so TRUNCATE alone is let through in
databases named ``test_*``; UPDATE and DELETE are refused everywhere.
"""

from django.db import migrations

TABLES = (
    "audit_app_submission",
    "audit_app_document",
    "audit_app_runrecord",
    "audit_app_killswitchevent",
    "audit_app_ledgerentry",
    "audit_app_ledgernode",
    "audit_app_checkpoint",
)

FUNCTION = """
CREATE OR REPLACE FUNCTION glassbox_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND current_database() LIKE 'test\\_%' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'glassbox: % on % refused: evidence is write-once', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""

ROW_TRIGGER = "CREATE TRIGGER {t}_write_once BEFORE UPDATE OR DELETE ON {t} FOR EACH ROW EXECUTE FUNCTION glassbox_refuse_change();"
TRUNCATE_TRIGGER = "CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} FOR EACH STATEMENT EXECUTE FUNCTION glassbox_refuse_change();"


def forward_sql() -> str:
    statements = [FUNCTION]
    for table in TABLES:
        statements += [ROW_TRIGGER.format(t=table), TRUNCATE_TRIGGER.format(t=table)]
    return "\n".join(statements)


def backward_sql() -> str:
    statements = []
    for table in TABLES:
        statements += [
            f"DROP TRIGGER IF EXISTS {table}_write_once ON {table};",
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};",
        ]
    return "\n".join([*statements, "DROP FUNCTION IF EXISTS glassbox_refuse_change();"])


class Migration(migrations.Migration):
    dependencies = [("audit_app", "0002_roles")]
    operations = [migrations.RunSQL(forward_sql(), backward_sql())]
