from workflows.admin import campaigns, protocols, runs  # noqa: F401 - registers the admin classes
