"""Signing records: a password re-entered, then an append-only signature bound to the record's content hash.

A token (or a session) says who is calling; a signature also needs the signer to prove it is
them, now: the password (21 CFR 11.200(a)(1)). Wrong passwords are recorded, and after
``LABCORE_SIGNATURE_MAX_FAILURES`` of them within ``LABCORE_SIGNATURE_LOCKOUT_SECONDS`` signing
is locked for that user until the window has passed since the last one.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from labcore.exceptions import ApplicationError, PermissionDeniedError
from workflows.choices import SignatureMeaning
from workflows.models import Protocol, Signature, SignatureFailure, Workflow
from workflows.records import protocol_content_hash
from workflows.report import workflow_record_hash


def signing_locked_until(user) -> datetime | None:
    """When signing unlocks for ``user``, or None if they may sign now.

    Locked when the failures since their last signature, within the window, reach the limit.
    """
    window = timedelta(seconds=settings.LABCORE_SIGNATURE_LOCKOUT_SECONDS)
    since = timezone.now() - window
    last_signed = Signature.objects.filter(signer=user).order_by("-signed_at").values_list("signed_at", flat=True)
    last_signed = last_signed.first()
    if last_signed is not None and last_signed > since:
        since = last_signed
    failures = list(
        SignatureFailure.objects.filter(user=user, at__gt=since).order_by("-at").values_list("at", flat=True)
    )
    if len(failures) < settings.LABCORE_SIGNATURE_MAX_FAILURES:
        return None
    return failures[0] + window


@transaction.atomic
def signature_failure_record(*, user, record: str) -> SignatureFailure:
    """Record a wrong password. Its own transaction: the refusal that follows must not roll it back."""
    failure = SignatureFailure(user=user, record=record)
    failure.full_clean(exclude=["at"])
    failure.save()
    return failure


def printed_name(user) -> str:
    return user.get_full_name().strip() or user.username


def signature_create(
    *,
    user,
    password: str,
    meaning: str,
    comment: str = "",
    protocol: Protocol | None = None,
    workflow: Workflow | None = None,
) -> Signature:
    """Sign one record (a protocol version or a run) as ``user``, who re-entered ``password``.

    403 if signing is locked for them or the password is wrong (that attempt is recorded, and
    stays recorded: it is committed before the refusal). The signature stores the SHA-256 of
    the record's canonical content now; later changes to a draft leave it visibly not covering.
    """
    if (protocol is None) == (workflow is None):
        raise ApplicationError("sign exactly one record: a protocol or a workflow")
    if meaning not in SignatureMeaning.values:
        raise ApplicationError(
            f"meaning must be one of {', '.join(SignatureMeaning.values)}", fields={"meaning": ["not a meaning"]}
        )
    record = f"protocol {protocol.pk}" if protocol is not None else f"workflow {workflow.pk}"
    locked_until = signing_locked_until(user)
    if locked_until is not None:
        raise PermissionDeniedError(
            f"signing is locked for {user.username} until {locked_until:%Y-%m-%d %H:%M:%S} UTC "
            "after repeated wrong passwords",
            fields={"password": ["signing locked"]},
        )
    if not password or not user.check_password(password):
        signature_failure_record(user=user, record=record)
        raise PermissionDeniedError(
            f"wrong password: {record} was not signed (the attempt is recorded)",
            fields={"password": ["wrong password"]},
        )
    return _signature_insert(user=user, meaning=meaning, comment=comment, protocol=protocol, workflow=workflow)


@transaction.atomic
def _signature_insert(*, user, meaning, comment, protocol, workflow) -> Signature:
    # The hash is read in the same transaction as the insert; a concurrent edit of a draft
    # committed in between leaves the signature over the earlier content, which its
    # covers_current_content then shows: nothing is claimed that was not signed.
    digest = protocol_content_hash(protocol) if protocol is not None else workflow_record_hash(workflow)
    signature = Signature(
        protocol=protocol,
        workflow=workflow,
        signer=user,
        printed_name=printed_name(user),
        meaning=meaning,
        comment=comment,
        content_hash=digest,
    )
    signature.full_clean(exclude=["signed_at"])
    signature.save()
    signature.refresh_from_db(fields=["signed_at"])
    return signature
