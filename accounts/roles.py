"""Roles: Django groups that grant API capabilities and admin model permissions.

A capability is what an endpoint asks for; a role is a set of capabilities. Superusers have
every capability. The groups are created by a migration; their admin model permissions are
kept in step after every migrate (models added later get their permissions too).
"""

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

READ = "read"
EDIT_DEFINITIONS = "edit_definitions"  # projects, protocols, steps, actions, action types
RUN_WORKFLOWS = "run_workflows"  # create and start workflows
CONTROL_WORKFLOWS = "control_workflows"  # pause, resume, cancel, resolve, complete, execute-step
OPERATE_DEVICES = "operate_devices"  # book, release, queue, withdraw, force-release, execute
REGISTER_SAMPLES = "register_samples"  # register plates and samples (what a LIMS does)

SCIENTIST, OPERATOR, INTEGRATOR, VIEWER = "scientist", "operator", "integrator", "viewer"

ROLE_CAPABILITIES = {
    SCIENTIST: {READ, EDIT_DEFINITIONS, RUN_WORKFLOWS, REGISTER_SAMPLES},
    OPERATOR: {READ, RUN_WORKFLOWS, CONTROL_WORKFLOWS, OPERATE_DEVICES, REGISTER_SAMPLES},
    INTEGRATOR: {READ, RUN_WORKFLOWS, CONTROL_WORKFLOWS, OPERATE_DEVICES, REGISTER_SAMPLES},
    VIEWER: {READ},
}
ALL_CAPABILITIES = set().union(*ROLE_CAPABILITIES.values())

LAB_APPS = ("devices", "samples", "workflows", "executionlogs")
DEFINITION_MODELS = ("project", "protocol", "step", "action", "actiontype")
OPERATOR_MODELS = ("workflow", "runstep", "device", "booking", "queueentry")
SAMPLE_MODELS = ("plate", "sample")  # REGISTER_SAMPLES in the admin: add and correct, never delete

# Admin model permissions per role, as (codename prefixes, model names or None for all lab models).
ROLE_ADMIN_PERMISSIONS = {
    VIEWER: [(("view",), None)],
    SCIENTIST: [
        (("view",), None),
        (("add", "change", "delete"), DEFINITION_MODELS),
        (("add",), ("workflow",)),
        (("add", "change"), SAMPLE_MODELS),
    ],
    OPERATOR: [(("view",), None), (("change",), OPERATOR_MODELS), (("add", "change"), SAMPLE_MODELS)],
    INTEGRATOR: [(("view",), None), (("change",), OPERATOR_MODELS), (("add", "change"), SAMPLE_MODELS)],
}


def user_capabilities(user) -> set[str]:
    """The capabilities of ``user``, computed once per user object (one query)."""
    if not user or not user.is_authenticated or not user.is_active:
        return set()
    if user.is_superuser:
        return set(ALL_CAPABILITIES)
    cached = getattr(user, "_labcore_capabilities", None)
    if cached is None:
        cached = set()
        for role in user.groups.values_list("name", flat=True):
            cached |= ROLE_CAPABILITIES.get(role, set())
        user._labcore_capabilities = cached
    return cached


def role_permissions_sync(**kwargs) -> None:
    """Give each role group its admin model permissions (idempotent; runs after migrate)."""
    for role, grants in ROLE_ADMIN_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        query = Q(pk__in=[])
        for prefixes, models in grants:
            for prefix in prefixes:
                part = Q(content_type__app_label__in=LAB_APPS, codename__startswith=f"{prefix}_")
                if models is not None:
                    part &= Q(content_type__model__in=models)
                query |= part
        group.permissions.set(Permission.objects.filter(query))
