"""Content bindings: a submission carries its case reference, title and team; a run the hash of its submission.

These columns enter the evidence record of every new row. Rows ledgered before this migration have
records without them and would no longer match their entries, so the migration refuses a database
that already holds evidence instead of turning an intact ledger into a false tamper alarm.
"""

from typing import Any

from django.db import migrations, models


def refuse_existing_evidence(apps: Any, schema_editor: Any) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM audit_app_submission) + (SELECT count(*) FROM audit_app_runrecord)"
        )
        (rows,) = cursor.fetchone()
    if rows:
        raise RuntimeError(
            f"Migration 0008 adds content bindings to every evidence record, but this database already holds "
            f"{rows} submissions and run records ledgered without them; they would no longer verify. Export "
            "their evidence bundles, then start Glassbox on a new database (for the demo: delete var/demo)."
        )


class Migration(migrations.Migration):
    dependencies = [("audit_app", "0007_ledger_append_function")]
    operations = [
        migrations.RunPython(refuse_existing_evidence, migrations.RunPython.noop),
        migrations.AddField(
            model_name="submission",
            name="case_reference",
            field=models.CharField(default="", max_length=100),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="submission",
            name="case_title",
            field=models.CharField(blank=True, default="", max_length=200),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="submission",
            name="team_name",
            field=models.CharField(default="", max_length=100),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="runrecord",
            name="submission_record_sha256",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.AddIndex(
            model_name="submission",
            index=models.Index(fields=["record_sha256"], name="submission_record_sha256"),
        ),
    ]
