"""The database refuses to change or remove a signature or a failed signing attempt.

Same shape as the run history's trigger (0006): a row-level BEFORE UPDATE OR DELETE trigger,
whatever sends the statement. TRUNCATE is not blocked (the test runner flushes tables with it).
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION workflows_signature_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are append-only: % of row % refused', TG_TABLE_NAME, TG_OP, OLD.id
        USING ERRCODE = 'restrict_violation',
              HINT = 'A signature is a record; sign again instead.';
END;
$$;

CREATE TRIGGER signature_append_only
    BEFORE UPDATE OR DELETE ON workflows_signature
    FOR EACH ROW EXECUTE FUNCTION workflows_signature_refuse_change();

CREATE TRIGGER signaturefailure_append_only
    BEFORE UPDATE OR DELETE ON workflows_signaturefailure
    FOR EACH ROW EXECUTE FUNCTION workflows_signature_refuse_change();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS signature_append_only ON workflows_signature;
DROP TRIGGER IF EXISTS signaturefailure_append_only ON workflows_signaturefailure;
DROP FUNCTION IF EXISTS workflows_signature_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0010_signatures"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
