from devices.admin import action_types, devices  # noqa: F401 - registers the admin classes
