"""Role-based access for every API view.

A view names the capability each of its actions needs in ``required_capabilities``
(``{"book": OPERATE_DEVICES, "create": RUN_WORKFLOWS, ...}``, keyed by viewset action or by
lower-case HTTP method). Reads need ``read``. A write the view does not name is refused:
access fails closed.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.roles import READ, user_capabilities

DENY = "__deny__"


def required_capability(request, view) -> str:
    declared = getattr(view, "required_capabilities", {})
    action = getattr(view, "action", None)
    if action and action in declared:
        return declared[action]
    if request.method.lower() in declared:
        return declared[request.method.lower()]
    return READ if request.method in SAFE_METHODS else DENY


class HasRoleCapability(BasePermission):
    message = "Your role does not allow this."

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        if not hasattr(view, request.method.lower()):
            # The view has no handler for this method: let it answer 405, which is the truth,
            # rather than a 403 that suggests another role could do it.
            return True
        capability = required_capability(request, view)
        allowed = capability in user_capabilities(request.user)
        if not allowed:
            self.message = f"Your role does not allow this (needs {capability.replace('_', ' ')})."
        return allowed
