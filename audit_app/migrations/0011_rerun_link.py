"""A submission may name the submission it re-runs, by record hash (part of its ledgered record)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("audit_app", "0010_verification_history_write_once")]

    operations = [
        migrations.AddField(
            model_name="submission",
            name="rerun_of_sha256",
            field=models.CharField(blank=True, db_default="", default="", max_length=64),
        ),
    ]
