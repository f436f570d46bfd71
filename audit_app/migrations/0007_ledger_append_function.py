"""The append step in the database: one round trip while the head row is locked.

Python computes the canonical payload and its leaf hash before calling; this function takes the
head row lock (held until commit), numbers the entry, stores it with every subtree it completes
(SHA-256(0x01 || left || right), as RFC 6962) and moves the head. The same step in Python,
``merkle.nodes_completed_by``, is what the tests compare it against.
"""

from django.db import migrations

FUNCTION = r"""
CREATE OR REPLACE FUNCTION glassbox_ledger_append(
    p_kind text, p_subject text, p_payload bytea, p_leaf bytea, p_at timestamptz
) RETURNS TABLE (entry_id bigint, entry_sequence bigint) AS $$
DECLARE
    head_size bigint; head_edge jsonb; position bigint; level int := 0; current bytea := p_leaf;
    sibling bytea; new_id bigint;
BEGIN
    SELECT size, edge INTO head_size, head_edge FROM audit_app_ledgerhead WHERE id = 1 FOR UPDATE;
    IF NOT FOUND THEN
        -- First append (or the head was dropped): rebuild it from the stored log.
        SELECT coalesce(max(sequence) + 1, 0) INTO head_size FROM audit_app_ledgerentry;
        SELECT coalesce(jsonb_agg(jsonb_build_array(n.level, n.index, encode(n.hash, 'hex')) ORDER BY n.level DESC),
                        '[]'::jsonb)
          INTO head_edge
          FROM generate_series(0, 62) AS l
          JOIN audit_app_ledgernode n ON n.level = l AND n.index = (head_size >> l) - 1
         WHERE (head_size >> l) & 1 = 1;
        INSERT INTO audit_app_ledgerhead (id, size, edge) VALUES (1, head_size, head_edge) ON CONFLICT (id) DO NOTHING;
        SELECT size, edge INTO head_size, head_edge FROM audit_app_ledgerhead WHERE id = 1 FOR UPDATE;
    END IF;
    INSERT INTO audit_app_ledgerentry (sequence, kind, subject, payload, leaf_hash, recorded_at)
         VALUES (head_size, p_kind, p_subject, p_payload, p_leaf, p_at) RETURNING id INTO new_id;
    INSERT INTO audit_app_ledgernode (level, index, hash) VALUES (0, head_size, p_leaf);
    position := head_size;
    WHILE position % 2 = 1 LOOP
        SELECT decode(e->>2, 'hex') INTO sibling FROM jsonb_array_elements(head_edge) AS e
         WHERE (e->>0)::int = level AND (e->>1)::bigint = position - 1;
        IF sibling IS NULL THEN
            RAISE EXCEPTION 'glassbox: ledger head is inconsistent at level % index %', level, position - 1;
        END IF;
        current := sha256('\x01'::bytea || sibling || current);
        level := level + 1;
        position := position / 2;
        INSERT INTO audit_app_ledgernode (level, index, hash) VALUES (level, position, current);
    END LOOP;
    UPDATE audit_app_ledgerhead
       SET size = head_size + 1,
           edge = coalesce((SELECT jsonb_agg(e ORDER BY (e->>0)::int DESC) FROM jsonb_array_elements(head_edge) AS e
                             WHERE (e->>0)::int > level), '[]'::jsonb)
                  || jsonb_build_array(jsonb_build_array(level, position, encode(current, 'hex')))
     WHERE id = 1;
    RETURN QUERY SELECT new_id, head_size;
END;
$$ LANGUAGE plpgsql;
"""


class Migration(migrations.Migration):
    dependencies = [("audit_app", "0006_ledger_head")]
    operations = [
        migrations.RunSQL(
            FUNCTION, "DROP FUNCTION IF EXISTS glassbox_ledger_append(text, text, bytea, bytea, timestamptz);"
        )
    ]
