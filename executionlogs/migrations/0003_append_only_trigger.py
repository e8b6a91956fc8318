"""The database refuses to change or remove an execution log entry (invariant 6).

A row-level BEFORE UPDATE OR DELETE trigger raises, whatever sends the statement: the ORM, raw
SQL, psql. It is a plain migration (not a pgtrigger-managed trigger) so it exists in every
database the migrations have run on, and pgtrigger's pruning (which only touches triggers
named ``pgtrigger_*``) leaves it alone. TRUNCATE is not blocked: it needs table ownership, and
Django's test runner flushes tables with it.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION executionlogs_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'execution log entries are append-only: % of entry % refused', TG_OP, OLD.id
        USING ERRCODE = 'restrict_violation',
              HINT = 'The execution log is a forensic record; append a new entry instead.';
END;
$$;

CREATE TRIGGER executionlog_append_only
    BEFORE UPDATE OR DELETE ON executionlogs_executionlog
    FOR EACH ROW EXECUTE FUNCTION executionlogs_refuse_change();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS executionlog_append_only ON executionlogs_executionlog;
DROP FUNCTION IF EXISTS executionlogs_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("executionlogs", "0002_chain_indexes_and_encoder"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
