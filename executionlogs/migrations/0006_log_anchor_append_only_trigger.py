"""The database refuses to change or remove a log anchor, as it does for the entries (0003)."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION executionlogs_refuse_anchor_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'log anchors are append-only: % of anchor % refused', TG_OP, OLD.id
        USING ERRCODE = 'restrict_violation',
              HINT = 'An anchor records how far the execution log reached; append a new one instead.';
END;
$$;

CREATE TRIGGER loganchor_append_only
    BEFORE UPDATE OR DELETE ON executionlogs_loganchor
    FOR EACH ROW EXECUTE FUNCTION executionlogs_refuse_anchor_change();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS loganchor_append_only ON executionlogs_loganchor;
DROP FUNCTION IF EXISTS executionlogs_refuse_anchor_change();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("executionlogs", "0005_log_anchor"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
