"""Writes and state changes of workflows, one module per concern.

- ``protocols``: editing, publishing and versioning protocol definitions;
- ``creation``: creating workflows and materialising their plan of run-steps;
- ``execution`` and its neighbours: running, pausing, resuming, cancelling workflows.
"""
