from workflows.admin import campaigns, protocols, runs, samples  # noqa: F401 - registers the admin classes
