"""The signer and the append step stop trusting the head row, which the app role may UPDATE.

- ``Checkpoint.frontier``: the right edge of the tree at each checkpoint, so the signer can extend it with
  the new entries' leaves and sign a root derived from the entries, not from stored nodes.
- ``LedgerAlert``: write-once (ORM base class and the triggers of migration 0003), one row each time the
  signer refuses or an append finds the head row edited.
- ``glassbox_ledger_append`` keeps the head row only as the lock: it numbers the entry from
  ``max(sequence) + 1``, takes every sibling from the write-once nodes, names a missing or clashing node in
  one sentence, and records an alert and rewrites the head when the head disagreed with the log.
"""

import importlib

from django.db import migrations, models

ALERT_TRIGGERS = """
CREATE TRIGGER audit_app_ledgeralert_write_once BEFORE UPDATE OR DELETE ON audit_app_ledgeralert
    FOR EACH ROW EXECUTE FUNCTION glassbox_refuse_change();
CREATE TRIGGER audit_app_ledgeralert_no_truncate BEFORE TRUNCATE ON audit_app_ledgeralert
    FOR EACH STATEMENT EXECUTE FUNCTION glassbox_refuse_change();
"""

FUNCTION = r"""
CREATE OR REPLACE FUNCTION glassbox_ledger_append(
    p_kind text, p_subject text, p_payload bytea, p_leaf bytea, p_at timestamptz
) RETURNS TABLE (entry_id bigint, entry_sequence bigint) AS $$
DECLARE
    head_size bigint; head_edge jsonb; head_found boolean; log_size bigint; position bigint;
    lvl int := 0; current bytea := p_leaf; sibling bytea; edited text; new_edge jsonb;
    new_id bigint;
BEGIN
    SELECT size, edge INTO head_size, head_edge FROM audit_app_ledgerhead WHERE id = 1 FOR UPDATE;
    head_found := FOUND;
    IF NOT head_found THEN  -- first append, or the row was dropped after a bulk load: only the lock is needed
        INSERT INTO audit_app_ledgerhead (id, size, edge) VALUES (1, 0, '[]'::jsonb) ON CONFLICT (id) DO NOTHING;
        PERFORM 1 FROM audit_app_ledgerhead WHERE id = 1 FOR UPDATE;
    END IF;
    -- Under the lock no other append is in flight, so the committed entries are the whole log.
    SELECT coalesce(max(sequence) + 1, 0) INTO log_size FROM audit_app_ledgerentry;
    IF head_found AND head_size IS DISTINCT FROM log_size THEN
        edited := format('it said size %s, the log holds %s entries', head_size, log_size);
    END IF;
    INSERT INTO audit_app_ledgerentry (sequence, kind, subject, payload, leaf_hash, recorded_at)
         VALUES (log_size, p_kind, p_subject, p_payload, p_leaf, p_at) RETURNING id INTO new_id;
    -- A clash here (entries deleted from the end) raises a unique violation on ledger_node_unique, which
    -- log.append turns into one sentence; a plain INSERT keeps the usual path as cheap as before.
    INSERT INTO audit_app_ledgernode (level, index, hash) VALUES (0, log_size, p_leaf);
    position := log_size;
    WHILE position % 2 = 1 LOOP
        SELECT hash INTO sibling FROM audit_app_ledgernode WHERE level = lvl AND index = position - 1;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'glassbox: cannot append to the ledger: the stored tree node at level %, index % is missing, so the log was altered outside the application; run manage.py verify_ledger.', lvl, position - 1;
        END IF;
        -- A valid edge lists the smallest subtrees last, so the level-l sibling is its (l+1)-th element
        -- from the end: one direct comparison, no scan.
        IF edited IS NULL AND head_found THEN
            IF (head_edge -> (jsonb_array_length(head_edge) - 1 - lvl)) IS DISTINCT FROM
               jsonb_build_array(lvl, position - 1, encode(sibling, 'hex')) THEN
                edited := format('its edge at level %s, index %s differed from the stored node', lvl, position - 1);
            END IF;
        END IF;
        current := sha256('\x01'::bytea || sibling || current);
        lvl := lvl + 1;
        position := position / 2;
        INSERT INTO audit_app_ledgernode (level, index, hash) VALUES (lvl, position, current);
    END LOOP;
    IF edited IS NULL AND head_found THEN
        -- The usual path: the head's larger subtrees carry over; an edit there is harmless (nothing reads it)
        -- and check_head reports it.
        new_edge := coalesce((SELECT jsonb_agg(e ORDER BY (e->>0)::int DESC) FROM jsonb_array_elements(head_edge) AS e
                               WHERE (e->>0)::int > lvl), '[]'::jsonb)
                    || jsonb_build_array(jsonb_build_array(lvl, position, encode(current, 'hex')));
    ELSE
        SELECT coalesce(jsonb_agg(jsonb_build_array(n.level, n.index, encode(n.hash, 'hex')) ORDER BY n.level DESC),
                        '[]'::jsonb)
          INTO new_edge
          FROM generate_series(0, 62) AS l
          JOIN audit_app_ledgernode n ON n.level = l AND n.index = ((log_size + 1) >> l) - 1
         WHERE ((log_size + 1) >> l) & 1 = 1;
    END IF;
    IF edited IS NOT NULL THEN
        RAISE WARNING 'glassbox: the ledger head row disagreed with the stored log (%); the append used the stored log and rewrote it.', edited;
        INSERT INTO audit_app_ledgeralert (at, source, reason, size, message)
             VALUES (now(), 'append', 'head-mismatch', log_size,
                     format('The ledger head row disagreed with the stored log (%s): it was edited, or a stored node was; the append at position %s used the stored log and rewrote the head.', edited, log_size));
    END IF;
    UPDATE audit_app_ledgerhead SET size = log_size + 1, edge = new_edge WHERE id = 1;
    RETURN QUERY SELECT new_id, log_size;
END;
$$ LANGUAGE plpgsql;
"""

# Going back restores migration 0007's function, which trusted the head row.
PREVIOUS = importlib.import_module("audit_app.migrations.0007_ledger_append_function").FUNCTION


class Migration(migrations.Migration):
    dependencies = [("audit_app", "0008_content_bindings")]

    operations = [
        migrations.CreateModel(
            name="LedgerAlert",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("at", models.DateTimeField(auto_now_add=True)),
                ("source", models.CharField(max_length=20)),
                ("reason", models.CharField(max_length=40)),
                ("size", models.BigIntegerField()),
                ("message", models.TextField()),
            ],
            options={"ordering": ["-at", "-id"]},
        ),
        migrations.AddField(model_name="checkpoint", name="frontier", field=models.BinaryField(null=True)),
        migrations.RunSQL(
            ALERT_TRIGGERS,
            "DROP TRIGGER IF EXISTS audit_app_ledgeralert_write_once ON audit_app_ledgeralert;"
            "DROP TRIGGER IF EXISTS audit_app_ledgeralert_no_truncate ON audit_app_ledgeralert;",
        ),
        migrations.RunSQL(FUNCTION, PREVIOUS),
    ]
