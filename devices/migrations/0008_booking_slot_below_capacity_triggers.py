"""The database refuses an active booking in a slot at or above its device's capacity.

A CHECK constraint cannot read another table, so two row triggers keep ``slot < capacity``
whatever sends the statement (the ORM, raw SQL, psql):

- on bookings: an active booking (inserted, re-activated or moved to another slot) must have
  ``slot < device.capacity``. The device row is read FOR SHARE, so a concurrent change of the
  capacity waits for this transaction (and then sees the booking) or is seen by it;
- on devices: a capacity may not be set at or below an active booking's slot.

Together with the partial unique index on (device, slot) of active bookings, the database alone
guarantees at most ``capacity`` active bookings per device. Plain SQL, not pgtrigger-managed
(like the execution log's append-only trigger), so pgtrigger's pruning leaves them alone.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION devices_booking_slot_below_capacity() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    device_capacity integer;
BEGIN
    IF NEW.status <> 'active' THEN
        RETURN NEW;
    END IF;
    SELECT capacity INTO device_capacity FROM devices_device WHERE id = NEW.device_id FOR SHARE;
    IF device_capacity IS NOT NULL AND NEW.slot >= device_capacity THEN
        RAISE EXCEPTION 'booking slot % of device % is not below its capacity %',
                NEW.slot, NEW.device_id, device_capacity
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER booking_slot_below_capacity
    BEFORE INSERT OR UPDATE OF status, slot, device_id ON devices_booking
    FOR EACH ROW EXECUTE FUNCTION devices_booking_slot_below_capacity();

CREATE OR REPLACE FUNCTION devices_capacity_above_active_slots() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    highest integer;
BEGIN
    SELECT max(slot) INTO highest FROM devices_booking WHERE device_id = NEW.id AND status = 'active';
    IF highest IS NOT NULL AND highest >= NEW.capacity THEN
        RAISE EXCEPTION 'device % has an active booking in slot %; its capacity cannot be %',
                NEW.id, highest, NEW.capacity
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER device_capacity_above_active_slots
    BEFORE UPDATE OF capacity ON devices_device
    FOR EACH ROW WHEN (NEW.capacity < OLD.capacity)
    EXECUTE FUNCTION devices_capacity_above_active_slots();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS device_capacity_above_active_slots ON devices_device;
DROP FUNCTION IF EXISTS devices_capacity_above_active_slots();
DROP TRIGGER IF EXISTS booking_slot_below_capacity ON devices_booking;
DROP FUNCTION IF EXISTS devices_booking_slot_below_capacity();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("devices", "0007_device_capacity_booking_slot"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
