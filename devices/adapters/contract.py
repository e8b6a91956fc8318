"""The JSON contract between LabCore and a device service (see docs/adapters.md).

The mock adapter records the same request body the http adapter sends, so an execution log
reads the same whichever adapter ran the action.
"""

from __future__ import annotations

# Operation status values of ``GET {endpoint}/operations/{id}`` and of a 200 to ``POST /actions``.
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"


def action_request(*, action_type, parameters: dict, context) -> dict:
    """The body of ``POST {endpoint}/actions`` for one dispatch (``culture`` only when the context has one)."""
    body = {
        "action": action_type.name,
        "parameters": dict(parameters or {}),
        "attempt_id": context.attempt_id,
        "attempt": context.attempt,
        "workflow_id": context.workflow_id,
        "run_step_id": context.run_step_id,
        "samples": list(context.sample_barcodes),
    }
    if getattr(context, "culture", None) is not None:
        body["culture"] = context.culture
    return body
