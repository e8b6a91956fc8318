from devices.admin import action_types, bookings, devices  # noqa: F401 - registers the admin classes
