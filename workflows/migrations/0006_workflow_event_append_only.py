"""The database refuses to change or remove a workflow event (invariant 10: the run history).

Same shape as the execution log's trigger (executionlogs 0003): a plain row-level BEFORE UPDATE
OR DELETE trigger, whatever sends the statement. TRUNCATE is not blocked (the test runner
flushes tables with it, and it needs table ownership).
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION workflows_event_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'workflow events are append-only: % of event % refused', TG_OP, OLD.id
        USING ERRCODE = 'restrict_violation',
              HINT = 'A run''s history is a record; append a new event instead.';
END;
$$;

CREATE TRIGGER workflowevent_append_only
    BEFORE UPDATE OR DELETE ON workflows_workflowevent
    FOR EACH ROW EXECUTE FUNCTION workflows_event_refuse_change();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS workflowevent_append_only ON workflows_workflowevent;
DROP FUNCTION IF EXISTS workflows_event_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0005_workflow_events"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
