"""The lock an edit of a draft protocol takes, for editors that save rows themselves (the admin).

The services in ``workflows.services.protocols`` lock the protocol row before publish, new
version and their own edits; the admin's protocol editor saves the protocol and its inline steps
and actions through Django's forms, so it takes the same row lock first, here. Holding it until
the admin's transaction commits serialises the edit with a publish or a new version of the same
protocol: the edit either lands on the draft before it is published, or sees it published.

Imports only models and the kernel, so it stays out of the circle between the other modules of
this package.
"""

from labcore.exceptions import ConflictError
from labcore.locking import lock_row
from workflows.models import Protocol


def protocol_edit_lock(*, protocol: Protocol) -> Protocol:
    """Lock ``protocol``'s row FOR UPDATE for the rest of the transaction; return it as now stored.

    Lock order: the protocol row first, then its steps and actions (as the services take them).
    """
    locked = lock_row(Protocol.objects.filter(pk=protocol.pk), what=f"protocol {protocol.pk}")
    if locked is None:
        raise ConflictError(f"protocol {protocol.pk} no longer exists")
    return locked
