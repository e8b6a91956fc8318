from workflows.models.campaigns import Campaign
from workflows.models.definitions import Action, Project, Protocol, Step
from workflows.models.events import AppendOnlyEventError, WorkflowEvent
from workflows.models.runs import RunStep, RunUnit, Workflow, WorkflowSample
from workflows.models.signatures import AppendOnlySignatureError, Signature, SignatureFailure
from workflows.models.workers import WorkerHeartbeat

__all__ = [
    "Action",
    "AppendOnlyEventError",
    "AppendOnlySignatureError",
    "Campaign",
    "Project",
    "Protocol",
    "RunStep",
    "RunUnit",
    "Signature",
    "SignatureFailure",
    "Step",
    "Workflow",
    "WorkerHeartbeat",
    "WorkflowEvent",
    "WorkflowSample",
]
