"""Verification history becomes write-once, ledgered evidence; the running state moves to VerificationRun.

History rows from before this migration were never ledgered: verify_ledger would report each of them as an
unledgered row forever, so they are removed (they were operational notes, not evidence) before the table
gets the same triggers as the other evidence tables (function from 0003).
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

TABLE = "audit_app_ledgerverification"
TRIGGERS = (
    f"DELETE FROM {TABLE};"
    f"CREATE TRIGGER {TABLE}_write_once BEFORE UPDATE OR DELETE ON {TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION glassbox_refuse_change();"
    f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
    "FOR EACH STATEMENT EXECUTE FUNCTION glassbox_refuse_change();"
)
DROP_TRIGGERS = (
    f"DROP TRIGGER IF EXISTS {TABLE}_write_once ON {TABLE};DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE};"
)


class Migration(migrations.Migration):
    dependencies = [
        ("audit_app", "0009_signer_trusts_no_mutable_state"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunSQL(TRIGGERS, DROP_TRIGGERS),
        migrations.AlterField(
            model_name="ledgerverification",
            name="at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AddField(
            model_name="ledgerverification",
            name="checkpoints",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="ledgerverification",
            name="root",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="ledgerverification",
            name="problem_count",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="ledgerverification",
            name="problems",
            field=models.JSONField(default=list),
        ),
        migrations.AddField(
            model_name="ledgerverification",
            name="record_sha256",
            field=models.CharField(default="", max_length=64),
        ),
        migrations.CreateModel(
            name="VerificationRun",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("requested_at", models.DateTimeField(auto_now_add=True)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("queued", "Queued"),
                            ("running", "Running"),
                            ("finished", "Finished"),
                            ("failed", "Failed"),
                        ],
                        default="queued",
                        max_length=10,
                    ),
                ),
                ("done", models.BigIntegerField(default=0)),
                ("total", models.BigIntegerField(default=0)),
                ("error", models.TextField(blank=True)),
                (
                    "requested_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "result",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="run",
                        to="audit_app.ledgerverification",
                    ),
                ),
            ],
            options={
                "ordering": ["-requested_at", "-id"],
            },
        ),
    ]
