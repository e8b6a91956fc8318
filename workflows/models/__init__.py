from workflows.models.definitions import Action, Project, Protocol, Step
from workflows.models.runs import RunStep, Workflow, WorkflowSample

__all__ = ["Action", "Project", "Protocol", "RunStep", "Step", "Workflow", "WorkflowSample"]
