from workflows.admin import protocols, runs  # noqa: F401 - registers the admin classes
